"""unmask: fast decoding for masked diffusion language models.

    import unmask
    model = unmask.load_model()                       # the bundled model; or a local LLaDA / Dream / BERT path
    result = unmask.generate(model, "Solve the sudoku:\\n...", planner="dilated", gen_length=32, block_length=16)
    result.texts, result.nfe, result.reveal_step
"""

from unmask.config import DecodeConfig
from unmask.decode import DecodeResult, StepEvent, decode, generate
from unmask.models import Denoiser, bundled_model_path, load_model, wrap_model
from unmask.planners import Planner, StepState, available_planners, get_planner

__version__ = "0.1.0"

__all__ = [
    "DecodeConfig",
    "DecodeResult",
    "Denoiser",
    "Planner",
    "StepEvent",
    "StepState",
    "available_planners",
    "bundled_model_path",
    "decode",
    "generate",
    "get_planner",
    "load_model",
    "wrap_model",
]
