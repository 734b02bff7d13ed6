"""DecodeConfig: every setting of one decode, validated up front and serialisable next to results."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

CACHE_MODES = ("none", "prefix", "dual")


@dataclass(frozen=True)
class DecodeConfig:
    """How to decode. Compared by value; `to_dict`/`from_dict` round-trip through JSON."""

    planner: str = "dilated"
    """Registered planner name (`unmask.available_planners()`)."""
    planner_options: dict[str, Any] = field(default_factory=dict)
    """Options passed to the planner, e.g. `{"base": 2}` for `dilated` or `{"tau": 0.9}` for `threshold`."""
    gen_length: int = 128
    """Number of generated positions G (the answer is at most this long)."""
    block_length: int = 32
    """Semi-autoregressive block size B. Blocks are decoded left to right; the last one may be shorter."""
    temperature: float = 0.0
    """0 is greedy (argmax); > 0 samples by Gumbel-max in float64, as LLaDA does."""
    top_p: float | None = None
    """Nucleus filter applied before sampling and scoring; None is off."""
    top_k: int | None = None
    """Keep only the k most likely tokens before sampling and scoring; None is off."""
    cfg_scale: float = 0.0
    """Classifier-free guidance weight w (LLaDA): logits = u + (w + 1)(c - u), u with the prompt masked."""
    eos_early_stop: bool = True
    """Finish a row once it has committed EOS and everything before it; it then costs no more calls."""
    stop: tuple[str, ...] = ()
    """Stop strings: the text is cut at the first one, and a row whose revealed prefix holds one finishes."""
    seed: int | None = None
    """Seed for sampling and random planners; each row draws from its own stream, so rows stay independent."""
    cache: str = "none"
    """KV caching: "none", "prefix" (Fast-dLLM prefix cache) or "dual" (prefix and suffix)."""

    def __post_init__(self):
        if isinstance(self.stop, str):
            object.__setattr__(self, "stop", (self.stop,))
        object.__setattr__(self, "stop", tuple(self.stop or ()))
        object.__setattr__(self, "planner_options", dict(self.planner_options))
        for name in ("gen_length", "block_length"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}: pass e.g. {name}=32")
        if self.temperature < 0:
            raise ValueError(f"temperature must be >= 0 (0 is greedy), got {self.temperature}")
        if self.top_p is not None and not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}: use None to turn it off")
        if self.top_k is not None and (not isinstance(self.top_k, int) or self.top_k < 1):
            raise ValueError(f"top_k must be an integer >= 1, got {self.top_k!r}: use None to turn it off")
        if self.cfg_scale < 0:
            raise ValueError(f"cfg_scale must be >= 0 (0 is off), got {self.cfg_scale}")
        if self.cache not in CACHE_MODES:
            raise ValueError(f"cache must be one of {CACHE_MODES}, got {self.cache!r}")
        if any(not s for s in self.stop):
            raise ValueError("stop strings must be non-empty: remove the empty string from stop")

    @property
    def num_blocks(self) -> int:
        return -(-self.gen_length // self.block_length)

    def block_lengths(self) -> list[int]:
        """Length of each block; only the last can be shorter."""
        full, rest = divmod(self.gen_length, self.block_length)
        return [self.block_length] * full + ([rest] if rest else [])

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["stop"] = list(self.stop)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DecodeConfig:
        return cls(**{**data, "stop": tuple(data.get("stop", ()))})
