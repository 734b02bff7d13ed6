"""Pulling code out of a completion: the first fenced block when there is one, else the text itself."""

from __future__ import annotations

import re

_FENCE = re.compile(r"```[ \t]*(?:python3?|py)?[ \t]*\n(.*?)(?:```|\Z)", re.DOTALL | re.IGNORECASE)


def code_block(text: str) -> str:
    """The first ```python (or bare ```) block of `text`, an unclosed one running to the end; `text` when none."""
    match = _FENCE.search(text)
    return match[1] if match else text
