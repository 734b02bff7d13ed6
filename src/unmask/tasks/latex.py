r"""LaTeX final answers: the last `\boxed{...}` of a solution, normalised so that equal answers compare equal.

The normalisation follows the usual MATH grading (Hendrycks et al.; lm-eval's minerva_math): spacing commands,
`\left`/`\right`, dollars, degrees, percent signs and unit words go; `\dfrac`/`\tfrac` become `\frac`, `\frac12`
becomes `\frac{1}{2}` and `a/b` becomes `\frac{a}{b}`; a leading `x=` goes; numbers compare by value.
"""

from __future__ import annotations

import math
import re

_UNITS = ("cm", "mm", "km", "m", "meters", "meter", "inches", "inch", "in", "feet", "foot", "ft", "yards", "miles",
          "mph", "degrees", "degree", "units", "unit", "square", "sq", "cents", "dollars", "hours", "hour", "minutes",
          "seconds", "days", "pounds", "grams", "ways", "points", "students", "people")
_UNIT = "(?:" + "|".join(_UNITS) + ")"
_TEXT_UNIT = re.compile(r"\\(?:text|textrm|mbox|mathrm)\{\s*" + _UNIT + r"\s*\}(?:\^\{?\d\}?)?")
_TEXT = re.compile(r"\\(?:text|textrm|textbf|mbox|mathrm)\{([^{}]*)\}")
_TRAILING_UNIT = re.compile(r"(?<=[\d}])\s+" + _UNIT + r"(?:\^\{?\d\}?)?\s*$")
_VARIABLE = re.compile(r"^[A-Za-z](?:_\{?\w+\}?)?=(?!=)")
_SLASH = re.compile(r"^(-?\d+)/(\d+)$")
_FRAC = re.compile(r"^(-?)\\frac\{(-?\d+(?:\.\d+)?)\}\{(-?\d+(?:\.\d+)?)\}$")
_THOUSANDS = re.compile(r"^-?\d{1,3}(?:,\d{3})+(?:\.\d+)?$")
_REMOVED = ("\\ ", "\\!", "\\,", "\\;", "\\:", "\\left", "\\right", "\\displaystyle", "\\$", "$", "^\\circ",
            "^{\\circ}", "\\%", "%")


def last_boxed(text: str) -> str | None:
    r"""The content of the last `\boxed{...}` (or `\fbox{...}`, or `\boxed 5`) in `text`; None when there is none or
    its braces do not close."""
    start = max(text.rfind("\\boxed"), text.rfind("\\fbox"))
    if start < 0:
        return None
    rest = text[start + (6 if text.startswith("\\boxed", start) else 5) :]
    if not rest.startswith("{"):
        words = rest.split("$")[0].split()
        return words[0] if rest[:1].isspace() and words else None
    end = _group_end(rest)
    return None if end is None else rest[1 : end - 1]


def normalise(answer: str) -> str:
    """`answer` in a canonical spelling (see the module docstring); compare two with `equivalent`."""
    text = _TEXT_UNIT.sub("", answer.strip())
    text = _TRAILING_UNIT.sub("", text)
    for removed in _REMOVED:
        text = text.replace(removed, "")
    text = text.replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac")
    text = _TEXT.sub(r"\1", text)
    text = re.sub(r"\s+", "", text)
    text = _VARIABLE.sub("", text)
    text = _fix_arguments(_fix_arguments(text, "\\frac", 2), "\\sqrt", 1)
    if _THOUSANDS.match(text):
        text = text.replace(",", "")
    text = _SLASH.sub(r"\\frac{\1}{\2}", text)
    text = re.sub(r"^(-?\d+)\.0+$", r"\1", text)
    return re.sub(r"^(-?)\.(\d)", r"\g<1>0.\2", text)


def equivalent(answer: str, reference: str) -> bool:
    """Whether two final answers agree: equal once normalised, or equal numbers."""
    a, b = normalise(answer), normalise(reference)
    if a == b:
        return True
    x, y = _number(a), _number(b)
    return x is not None and y is not None and math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-9)


def _number(text: str) -> float | None:
    """The value of a normalised answer that is a plain number or a numeric `\\frac`, else None."""
    try:
        return float(text)
    except ValueError:
        pass
    match = _FRAC.match(text)
    if match is None or float(match[3]) == 0:
        return None
    value = float(match[2]) / float(match[3])
    return -value if match[1] else value


def _group_end(text: str) -> int | None:
    """The index just past the brace that closes the `{` at `text[0]`; None when it never closes."""
    depth = 0
    for i, char in enumerate(text):
        depth += {"{": 1, "}": -1}.get(char, 0)
        if depth == 0:
            return i + 1
    return None


def _fix_arguments(text: str, command: str, count: int) -> str:
    r"""Brace the first `count` arguments of every `command` that are single characters (`\frac12` ->
    `\frac{1}{2}`, `\sqrt2` -> `\sqrt{2}`)."""
    pieces = text.split(command)
    out = [pieces[0]]
    for piece in pieces[1:]:
        fixed, rest = "", piece
        for _ in range(count):
            end = _group_end(rest) if rest.startswith("{") else None
            if end is not None:
                fixed, rest = fixed + rest[:end], rest[end:]
            elif rest and rest[0] not in "{[\\":
                fixed, rest = fixed + "{" + rest[0] + "}", rest[1:]
            else:
                break
        out.append(command + fixed + rest)
    return "".join(out)
