"""`load_model`: a local checkpoint directory (or the bundled model) wrapped in the right denoiser adapter.

LLaDA / LLaDA-1.5 and Dream / DiffuCoder checkpoints are built natively from transformers' own Llama and Qwen2
(`models/llada.py`, `models/dream.py`): no remote code runs, and the weights are loaded once, in the requested
dtype, straight from the checkpoint files. Their own remote code stays available as kinds `llada_remote` and
`dream_remote` where the installed transformers runs it. Every problem with the directory is reported, naming the
file and what is wrong, before any weights are read.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import torch

from unmask.devices import parse_device, parse_dtype
from unmask.models import dream, llada
from unmask.models.adapters import (
    BidirectionalDenoiser,
    DreamDenoiser,
    MaskedLMDenoiser,
    RemoteDreamDenoiser,
    RemoteLLaDADenoiser,
)
from unmask.models.base import Denoiser

BUNDLED_MODEL = "mdlm-5m"
KINDS = ("masked_lm", "bidirectional_llama", "llada", "dream", "llada_remote", "dream_remote")
REMOTE_KINDS = ("llada_remote", "dream_remote")
UNSUPPORTED_ARCHITECTURES = {
    "LLaDA2MoeModelLM": "LLaDA2 / LLaDA-MoE is a mixture-of-experts model that the installed transformers does not "
                        "build, and it decodes block-causally (each block sees only the blocks before it), which the "
                        "unmask loop's full attention does not reproduce; run it in diffusers' LLaDA2Pipeline with "
                        "unmask.integrations.diffusers.PlannerScheduler as the scheduler",
}
WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin", "pytorch_model.bin.index.json")


def bundled_model_path() -> Path:
    """Directory of the small masked diffusion LM shipped inside the package."""
    return Path(__file__).resolve().parent.parent / "assets" / BUNDLED_MODEL


def read_config(path: Path) -> dict:
    """config.json of a checkpoint directory as a dict, with errors that name the file and the problem."""
    file = path / "config.json"
    if not path.is_dir():
        raise FileNotFoundError(f"model directory {path} does not exist (give a local checkpoint directory; "
                                f"nothing is downloaded)")
    if not file.is_file():
        hint = "the bundled model is missing from this install" if path == bundled_model_path() else \
            "point to a local Hugging Face model directory"
        raise FileNotFoundError(f"no config.json in {path}: {hint} (nothing is downloaded)")
    try:
        raw = json.loads(file.read_text(encoding="utf-8"))
    except UnicodeDecodeError as err:
        raise ValueError(f"{file} is not UTF-8 text ({err.reason} at byte {err.start}): restore the file") from None
    except json.JSONDecodeError as err:
        raise ValueError(f"{file} is not valid JSON: {err.msg} at line {err.lineno} column {err.colno}; "
                         f"restore the file from the checkpoint") from None
    if not isinstance(raw, dict):
        raise ValueError(f"{file} must hold a JSON object, got {type(raw).__name__}")
    return raw


def detect_kind(config) -> str:
    """Adapter kind for a config (a dict read from config.json, or a transformers config)."""
    raw = config if isinstance(config, dict) else config.to_dict()
    if llada.is_llada(raw):
        return "llada"
    if dream.is_dream(raw):
        return "dream"
    architectures = raw.get("architectures") or []
    if raw.get("is_causal", True) is False and any(a.endswith("ForCausalLM") for a in architectures):
        return "bidirectional_llama"
    return "masked_lm"


def check_weight_files(path: Path) -> list[Path]:
    """The checkpoint's weight files, each safetensors file checked for truncation from its header (no data read).

    Raises:
        FileNotFoundError when there are none; ValueError naming a corrupt or truncated file.
    """
    files = sorted(path.glob("model*.safetensors")) + sorted(path.glob("pytorch_model*.bin"))
    if not files:
        raise FileNotFoundError(f"no weights in {path}: expected one of {', '.join(WEIGHT_FILES)} "
                                f"(or their shards)")
    for file in files:
        if file.suffix == ".safetensors":
            _check_safetensors(file)
    return files


def _check_safetensors(file: Path) -> None:
    size = file.stat().st_size
    with file.open("rb") as handle:
        head = handle.read(8)
        if len(head) < 8:
            raise ValueError(f"{file} is truncated ({size} bytes, no safetensors header): re-download or re-copy it")
        (length,) = struct.unpack("<Q", head)
        if length > size - 8:
            raise ValueError(f"{file} is truncated or not a safetensors file (header says {length} bytes, the file "
                             f"has {size}): re-download or re-copy it")
        try:
            header = json.loads(handle.read(length))
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise ValueError(f"{file} has a corrupt safetensors header: re-download or re-copy it") from None
    end = max((t["data_offsets"][1] for k, t in header.items() if k != "__metadata__"), default=0)
    if 8 + length + end > size:
        raise ValueError(f"{file} is truncated: its tensors need {8 + length + end} bytes, the file has {size}; "
                         f"re-download or re-copy it")


def _max_length(config) -> int | None:
    for name in ("max_position_embeddings", "max_sequence_length", "n_positions"):
        value = getattr(config, name, None)
        if isinstance(value, int) and value > 0:
            return value
    return None


def wrap_model(model, tokenizer, kind: str, mask_id: int | None = None) -> Denoiser:
    """Wrap an already-built model of adapter `kind` (see `KINDS`). LLaDA uses its official EOS / end-of-turn ids
    (as its `generate` does); its mask id, and Dream's ids, come from the model's config (the official values where
    it has none); other kinds take theirs from the tokenizer, then the config."""
    config = model.config
    max_length = _max_length(config)
    if kind in ("llada", "llada_remote"):
        adapter = BidirectionalDenoiser if kind == "llada" else RemoteLLaDADenoiser
        return adapter(model, tokenizer, _first(mask_id, getattr(config, "mask_token_id", None), llada.MASK_ID),
                       llada.EOS_ID, pad_id=llada.EOS_ID, stop_ids=(llada.EOT_ID,), max_length=max_length)
    if kind in ("dream", "dream_remote"):
        adapter = DreamDenoiser if kind == "dream" else RemoteDreamDenoiser
        eos_id = _first(getattr(config, "eos_token_id", None), dream.EOS_ID)
        return adapter(model, tokenizer, _first(mask_id, getattr(config, "mask_token_id", None), dream.MASK_ID),
                       eos_id, pad_id=_first(getattr(config, "pad_token_id", None), eos_id), max_length=max_length)
    mask_id = _first(mask_id, getattr(tokenizer, "mask_token_id", None), getattr(config, "mask_token_id", None))
    eos_id = _first(getattr(tokenizer, "eos_token_id", None), getattr(config, "eos_token_id", None))
    pad_id = getattr(tokenizer, "pad_token_id", None)
    if kind == "bidirectional_llama":
        return BidirectionalDenoiser(model, tokenizer, mask_id, eos_id, pad_id=pad_id, max_length=max_length)
    if kind == "masked_lm":
        eos_id = _first(eos_id, getattr(tokenizer, "sep_token_id", None))
        return MaskedLMDenoiser(model, tokenizer, mask_id, eos_id, pad_id=pad_id, max_length=max_length)
    raise ValueError(f"unknown model kind {kind!r}: choose one of {', '.join(KINDS)}")


def _first(*values):
    """The first value that is not None (None if all are)."""
    return next((value for value in values if value is not None), None)


def load_model(path: str | Path | None = None, *, mask_id: int | None = None, device=None, dtype=None,
               kind: str | None = None, trust_remote_code: bool = False) -> Denoiser:
    """Load a masked diffusion LM from a local directory (None: the bundled model) as a denoiser.

    Args:
        path: local checkpoint directory; None loads the bundled model.
        mask_id: override the mask token id (needed when the tokenizer has none).
        device: torch device or its name (default: cuda when available, else cpu).
        dtype: torch dtype or its name ("bfloat16", "bf16"); default float32 on CPU, bfloat16 on GPU.
        kind: force the adapter, one of `KINDS`; by default it is read from config.json (LLaDA and Dream / DiffuCoder
            checkpoints load natively).
        trust_remote_code: run the checkpoint's own modelling code; only the `*_remote` kinds need it.
    Returns:
        A `Denoiser` with `.tokenizer`, `.mask_id`, `.eos_id`.
    """
    path = Path(path) if path is not None else bundled_model_path()
    if kind is not None and kind not in KINDS:
        raise ValueError(f"unknown model kind {kind!r}: choose one of {', '.join(KINDS)}")
    dtype, device = parse_dtype(dtype), parse_device(device)
    raw = read_config(path)
    for architecture in raw.get("architectures") or []:
        if architecture in UNSUPPORTED_ARCHITECTURES:
            raise ValueError(f"{path}: {architecture} is not supported: {UNSUPPORTED_ARCHITECTURES[architecture]}")
    kind = kind or detect_kind(raw)
    if kind in REMOTE_KINDS and not trust_remote_code:
        raise ValueError(f"kind={kind!r} runs the modelling code shipped with {path}: pass trust_remote_code=True "
                         f"(or drop kind= to load it natively, without remote code)")
    check_weight_files(path)
    device = device or torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dtype = dtype or (torch.bfloat16 if device.type == "cuda" else torch.float32)
    model = _build(path, raw, kind, dtype, device)
    model.eval()
    tokenizer = _tokenizer(path, None if kind in REMOTE_KINDS else model.config, kind, trust_remote_code)
    return wrap_model(model, tokenizer, kind, mask_id=mask_id)


def _build(path: Path, raw: dict, kind: str, dtype: torch.dtype, device: torch.device):
    """The model with its weights, loaded once in `dtype` onto `device` (`device_map`: no full copy in CPU RAM)."""
    from transformers import AutoModelForCausalLM, AutoModelForMaskedLM, LlamaForCausalLM, Qwen2ForCausalLM

    source = str(path / "config.json")
    common = dict(dtype=dtype, local_files_only=True, device_map=str(device), output_loading_info=True)
    if kind == "llada":
        loaded = LlamaForCausalLM.from_pretrained(path, config=llada.llama_config(raw, source),
                                                  key_mapping=llada.WEIGHT_NAMES, **common)
    elif kind == "dream":
        loaded = Qwen2ForCausalLM.from_pretrained(path, config=dream.qwen2_config(raw, source), **common)
    elif kind in REMOTE_KINDS:
        return _build_remote(path, kind, dtype, device)
    else:
        loader = AutoModelForCausalLM if kind == "bidirectional_llama" else AutoModelForMaskedLM
        loaded = loader.from_pretrained(path, **common)
    model, info = loaded
    missing = sorted(info.get("missing_keys") or [])
    if missing:
        shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        raise ValueError(f"{path}: the weight files lack {len(missing)} tensor(s) the {kind} model needs: {shown}; "
                         f"the checkpoint is incomplete or of another architecture")
    return model


def _build_remote(path: Path, kind: str, dtype: torch.dtype, device: torch.device):
    """The checkpoint's own code; where the installed transformers cannot run it, say so and point to native loading."""
    import transformers
    from transformers import AutoModel

    try:
        model = AutoModel.from_pretrained(path, dtype=dtype, trust_remote_code=True, local_files_only=True)
        model.to(device)
        with torch.inference_mode():  # the known breaks show on the first call, not at load
            model(torch.zeros(1, 2, dtype=torch.long, device=device))
    except Exception as err:  # the remote code's own failure, whatever its type, is reported with the way out
        native = kind.removesuffix("_remote")
        raise RuntimeError(
            f"{path}: the checkpoint's own modelling code does not run on transformers {transformers.__version__} "
            f"({type(err).__name__}: {err}); load it natively instead: load_model({str(path)!r}) "
            f"(kind={native!r}, no remote code)"
        ) from err
    return model


def _tokenizer(path: Path, config, kind: str, trust_remote_code: bool):
    """The checkpoint's tokenizer. Dream ships its tokenizer as custom code (`DreamTokenizer`, Qwen2's byte-level
    BPE under another name): natively it is read as `Qwen2Tokenizer` from the same vocab.json / merges.txt. No other
    custom tokenizer code runs without `trust_remote_code` (nor is the user asked on stdin)."""
    from transformers import AutoTokenizer, Qwen2Tokenizer

    settings_file = path / "tokenizer_config.json"
    try:
        settings = json.loads(settings_file.read_text(encoding="utf-8")) if settings_file.is_file() else {}
        custom = (settings.get("auto_map") or {}).get("AutoTokenizer")
        if custom and not trust_remote_code:
            if kind == "dream":
                return Qwen2Tokenizer.from_pretrained(path, local_files_only=True)
            raise ValueError(f"the tokenizer is custom code ({custom}): pass trust_remote_code=True to run it, or "
                             f"provide a tokenizer.json")
        return AutoTokenizer.from_pretrained(path, config=config, trust_remote_code=trust_remote_code,
                                             local_files_only=True)
    except (OSError, ValueError, UnicodeDecodeError, AttributeError, TypeError) as err:
        raise ValueError(f"{path}: the tokenizer cannot be loaded ({type(err).__name__}: {err}); restore "
                         f"tokenizer.json / tokenizer_config.json, or build the model yourself and call wrap_model")\
            from None
