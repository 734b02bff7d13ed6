"""`load_model`: a local Hugging Face directory (or the bundled model) wrapped in the right denoiser adapter."""

from __future__ import annotations

from pathlib import Path

import torch

from unmask.models.adapters import (
    DREAM_MASK_ID,
    LLADA_EOS_ID,
    LLADA_EOT_ID,
    LLADA_MASK_ID,
    BidirectionalLlamaDenoiser,
    DreamDenoiser,
    LLaDADenoiser,
    MaskedLMDenoiser,
)
from unmask.models.base import Denoiser

BUNDLED_MODEL = "mdlm-5m"
KINDS = ("masked_lm", "bidirectional_llama", "llada", "dream")
REMOTE_CODE_KINDS = ("llada", "dream")


def bundled_model_path() -> Path:
    """Directory of the small masked diffusion LM shipped inside the package."""
    return Path(__file__).resolve().parent.parent / "assets" / BUNDLED_MODEL


def detect_kind(config) -> str:
    """Adapter kind for a transformers config: LLaDA, Dream, a bidirectional Llama-family model, or a masked LM."""
    model_type = str(getattr(config, "model_type", "")).lower()
    if model_type == "llada":
        return "llada"
    if model_type == "dream":
        return "dream"
    architectures = getattr(config, "architectures", None) or []
    if getattr(config, "is_causal", True) is False and any(a.endswith("ForCausalLM") for a in architectures):
        return "bidirectional_llama"
    return "masked_lm"


def _max_length(config) -> int | None:
    for name in ("max_position_embeddings", "max_sequence_length", "n_positions"):
        value = getattr(config, name, None)
        if isinstance(value, int) and value > 0:
            return value
    return None


def wrap_model(model, tokenizer, kind: str, mask_id: int | None = None) -> Denoiser:
    """Wrap an already-built model of adapter `kind` (see `KINDS`)."""
    config = model.config
    eos_id = getattr(tokenizer, "eos_token_id", None) if tokenizer is not None else None
    eos_id = eos_id if eos_id is not None else getattr(config, "eos_token_id", None)
    pad_id = getattr(tokenizer, "pad_token_id", None) if tokenizer is not None else None
    if kind == "llada":
        mask_id = LLADA_MASK_ID if mask_id is None else mask_id
        return LLaDADenoiser(model, tokenizer, mask_id, LLADA_EOS_ID, pad_id=pad_id if pad_id is not None else LLADA_EOS_ID,
                             stop_ids=(LLADA_EOT_ID,), max_length=_max_length(config))
    if kind == "dream":
        mask_id = DREAM_MASK_ID if mask_id is None else mask_id
        return DreamDenoiser(model, tokenizer, mask_id, eos_id, pad_id=pad_id, max_length=_max_length(config))
    if mask_id is None:
        mask_id = getattr(tokenizer, "mask_token_id", None) if tokenizer is not None else None
        mask_id = mask_id if mask_id is not None else getattr(config, "mask_token_id", None)
    if kind == "bidirectional_llama":
        return BidirectionalLlamaDenoiser(model, tokenizer, mask_id, eos_id, pad_id=pad_id, max_length=_max_length(config))
    if kind == "masked_lm":
        return MaskedLMDenoiser(model, tokenizer, mask_id, eos_id if eos_id is not None else getattr(tokenizer, "sep_token_id", None),
                                pad_id=pad_id, max_length=_max_length(config))
    raise ValueError(f"unknown model kind {kind!r}: choose one of {', '.join(KINDS)}")


def load_model(path: str | Path | None = None, *, mask_id: int | None = None, device=None, dtype=None,
               kind: str | None = None, trust_remote_code: bool = False) -> Denoiser:
    """Load a masked diffusion LM from a local directory (None: the bundled model) as a denoiser.

    Args:
        path: local Hugging Face model directory; None loads the bundled model.
        mask_id: override the mask token id (needed when the tokenizer has none).
        device: torch device (default: cuda when available, else cpu).
        dtype: torch dtype or its name ("bfloat16"); default float32 on CPU, bfloat16 on GPU.
        kind: force the adapter: one of "masked_lm", "bidirectional_llama", "llada", "dream".
        trust_remote_code: required for LLaDA / Dream checkpoints, whose modelling code ships with the weights.
    Returns:
        A `Denoiser` with `.tokenizer`, `.mask_id`, `.eos_id`.
    """
    from transformers import AutoConfig, AutoModel, AutoModelForCausalLM, AutoModelForMaskedLM, AutoTokenizer

    path = Path(path) if path is not None else bundled_model_path()
    if not (path / "config.json").exists():
        hint = "the bundled model is missing from this install" if path == bundled_model_path() else "point to a local model directory"
        raise FileNotFoundError(f"no config.json in {path}: {hint} (nothing is downloaded)")
    if kind is not None and kind not in KINDS:
        raise ValueError(f"unknown model kind {kind!r}: choose one of {', '.join(KINDS)}")
    config = AutoConfig.from_pretrained(path, trust_remote_code=trust_remote_code, local_files_only=True) \
        if trust_remote_code else _plain_config(path)
    kind = kind or detect_kind(config)
    if kind in REMOTE_CODE_KINDS and not trust_remote_code:
        raise ValueError(f"{path} is a {kind} checkpoint whose model code ships with it: pass trust_remote_code=True")
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if isinstance(dtype, str):
        dtype = getattr(torch, dtype)
    dtype = dtype or (torch.bfloat16 if device.type == "cuda" else torch.float32)
    loader = {"masked_lm": AutoModelForMaskedLM, "bidirectional_llama": AutoModelForCausalLM,
              "llada": AutoModel, "dream": AutoModel}[kind]
    model = loader.from_pretrained(path, dtype=dtype, trust_remote_code=trust_remote_code, local_files_only=True)
    model.to(device).eval()
    tokenizer = AutoTokenizer.from_pretrained(path, trust_remote_code=trust_remote_code, local_files_only=True)
    return wrap_model(model, tokenizer, kind, mask_id=mask_id)


def _plain_config(path: Path):
    """The config, read without executing any code that ships with the checkpoint."""
    import json

    from transformers import AutoConfig, PretrainedConfig

    raw = json.loads((path / "config.json").read_text())
    if "auto_map" in raw or str(raw.get("model_type", "")).lower() in REMOTE_CODE_KINDS:
        return PretrainedConfig(**raw)
    return AutoConfig.from_pretrained(path, local_files_only=True)
