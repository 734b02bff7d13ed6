"""DecodeConfig: every setting of one decode, validated up front and serialisable next to results."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from unmask import checks
from unmask.planners import PLANNERS, get_planner

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
        """Check every field (type, range, NaN/inf) and normalise `stop`, `planner_options` and numpy scalars."""
        def put(name, value):
            object.__setattr__(self, name, value)

        if not isinstance(self.planner, str):
            raise ValueError(f"planner must be a registered name (a str), got {self.planner!r}: e.g. planner='dilated'")
        if not isinstance(self.planner_options, Mapping) or not all(isinstance(k, str) for k in self.planner_options):
            raise ValueError(f"planner_options must be a dict of option names to values, got "
                             f"{self.planner_options!r}: e.g. planner_options={{'tau': 0.9}}")
        put("planner_options", dict(self.planner_options))
        stop = (self.stop,) if isinstance(self.stop, str) else () if self.stop is None else self.stop
        if not isinstance(stop, (list, tuple)) or not all(isinstance(s, str) for s in stop):
            raise ValueError(f"stop must be a string or a list of strings, got {self.stop!r}: e.g. stop=['\\n\\n']")
        put("stop", tuple(stop))
        for name in ("gen_length", "block_length"):
            put(name, checks.integer(name, getattr(self, name), at_least=1, example=32))
        put("temperature", checks.finite("temperature", self.temperature, at_least=0, example=0.7,
                                         note="0 is greedy"))
        if self.top_p is not None:
            put("top_p", checks.finite("top_p", self.top_p, above=0, at_most=1, example=0.95, note="None is off"))
        if self.top_k is not None:
            put("top_k", checks.integer("top_k", self.top_k, at_least=1, example=50, note="None is off"))
        put("cfg_scale", checks.finite("cfg_scale", self.cfg_scale, at_least=0, example=1.0, note="0 is off"))
        if not isinstance(self.eos_early_stop, bool):
            raise ValueError(f"eos_early_stop must be True or False, got {self.eos_early_stop!r}")
        if self.seed is not None:
            put("seed", checks.integer("seed", self.seed, example=0, note="None draws a fresh one"))
        if not isinstance(self.cache, str) or self.cache not in CACHE_MODES:
            raise ValueError(f"cache must be one of {CACHE_MODES}, got {self.cache!r}")
        if any(not s for s in self.stop):
            raise ValueError("stop strings must be non-empty: remove the empty string from stop")
        if self.planner in PLANNERS:  # a registered planner checks its options, and them against these lengths
            get_planner(self.planner, **self.planner_options).check(self.num_blocks, self.block_lengths())

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
