"""Device and dtype names as users write them (`--device cuda:1`, `--dtype bf16`), checked before a model loads.

Both parsers raise a ValueError that names the argument and lists the valid choices; `load_model` and the command
line call them so that a typo fails at once, not after seconds of loading.
"""

from __future__ import annotations

import torch

DTYPES = {
    "float32": torch.float32, "fp32": torch.float32, "float": torch.float32,
    "bfloat16": torch.bfloat16, "bf16": torch.bfloat16,
    "float16": torch.float16, "fp16": torch.float16, "half": torch.float16,
    "float64": torch.float64, "fp64": torch.float64, "double": torch.float64,
}
DEVICE_TYPES = ("cpu", "cuda", "mps", "xpu")
FORMS = "write cpu, cuda, cuda:N, mps or xpu"


def parse_dtype(name: str | torch.dtype | None) -> torch.dtype | None:
    """A torch floating dtype from its name ("bfloat16", "bf16", "torch.float16", ...); a dtype or None as is.

    Raises:
        ValueError naming `dtype` and the valid names.
    """
    if name is None or isinstance(name, torch.dtype):
        if isinstance(name, torch.dtype) and not name.is_floating_point:
            raise ValueError(f"dtype must be a floating dtype for the weights, got {name}: use {_dtype_choices()}")
        return name
    key = str(name).strip().lower().removeprefix("torch.")
    if key not in DTYPES:
        raise ValueError(f"unknown dtype {name!r}: use one of {_dtype_choices()}")
    return DTYPES[key]


def parse_device(name: str | torch.device | None) -> torch.device | None:
    """A torch device that exists on this machine ("cpu", "cuda", "cuda:1", "mps", "xpu"); None as is.

    Raises:
        ValueError naming `device`, the valid forms, and what is available here when the device is not.
    """
    if name is None:
        return None
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError):
        raise ValueError(f"unknown device {name!r}: {FORMS} (available here: {_device_choices()})") from None
    if device.type not in DEVICE_TYPES:
        raise ValueError(f"device {name!r} cannot run a model: {FORMS} (available here: {_device_choices()})")
    if device.type == "cpu":
        return device
    backend = getattr(torch, device.type)
    if not backend.is_available():
        raise ValueError(f"device {name!r} is not available on this machine: use one of {_device_choices()}")
    if device.index is not None and device.index >= backend.device_count():
        raise ValueError(f"device {name!r}: this machine has {backend.device_count()} {device.type} device(s), "
                         f"numbered from 0: use one of {_device_choices()}")
    return device


def _dtype_choices() -> str:
    return "float32 (fp32), bfloat16 (bf16), float16 (fp16), float64"


def _device_choices() -> str:
    """The devices available on this machine, e.g. "cpu, cuda, cuda:0"."""
    choices = ["cpu"]
    for kind in DEVICE_TYPES[1:]:
        backend = getattr(torch, kind, None)
        if backend is not None and backend.is_available():
            choices += [kind] + [f"{kind}:{i}" for i in range(backend.device_count())]
    return ", ".join(choices)
