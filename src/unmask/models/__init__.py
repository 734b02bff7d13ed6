"""Denoiser adapters and model loading."""

from unmask.models.base import Denoiser, positions_from_mask
from unmask.models.loading import KINDS, bundled_model_path, detect_kind, load_model, wrap_model

__all__ = ["Denoiser", "KINDS", "bundled_model_path", "detect_kind", "load_model", "positions_from_mask", "wrap_model"]
