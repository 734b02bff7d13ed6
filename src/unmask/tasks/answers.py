"""Numeric answers the GSM8K way: the number after `####`, else the last number in the text."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?|-?\.\d+")


def extract_number(text: str) -> str | None:
    """The number after `####`, else the last number in `text`, normalised (`1,234.50` -> `1234.5`); None if none."""
    marked = "####" in text
    numbers = _NUMBER.findall(text.split("####", 1)[1] if marked else text)
    if not numbers:
        return None
    return normalise_number(numbers[0] if marked else numbers[-1])


def normalise_number(number: str) -> str:
    """A number written canonically: no thousands separators, no trailing zeros after the point, no `-0`."""
    try:
        value = Decimal(number.replace(",", ""))
    except InvalidOperation:
        return number
    text = format(value.normalize(), "f")
    return "0" if text == "-0" else text
