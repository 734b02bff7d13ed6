"""Append-only JSONL result files that survive `kill -9`: whole lines or nothing, no duplicates on resume.

A line that cannot be used (not JSON, not an object, a required field missing or of the wrong type) never stops a
run: it is skipped with a `CorruptRecordWarning` that names the file and line, so its sample is decoded again; in a
file the reading process owns (`repair=True`) it is also moved to `<file>.rejected`, so the warning comes once.
"""

from __future__ import annotations

import json
import numbers
import os
import warnings
from pathlib import Path

SAMPLE_FIELDS = {"id": numbers.Integral, "correct": bool, "nfe": numbers.Integral, "tokens": numbers.Integral,
                 "seconds": numbers.Real}
"""What `unmask eval` reads back from each sample record (`summarise`, resume), with the type each must have."""


class CorruptRecordWarning(UserWarning):
    """A result line was skipped because it cannot be read; the message names the file and the line."""


def read_records(path: Path, repair: bool = False, fields: dict[str, type] | None = None) -> list[dict]:
    """Every complete, readable record in `path`.

    A torn last line (a write cut by a kill) is ignored silently. Any other unreadable line, or a record lacking one
    of `fields` (name -> type), is skipped with a `CorruptRecordWarning`. With `repair` (only for a file this process
    owns) the torn line is cut from the file and the unreadable ones are moved to `<path>.rejected`, so that appends
    start on a clean line.
    """
    if not path.exists():
        return []
    data = path.read_bytes()
    end = data.rfind(b"\n") + 1
    if repair and end != len(data):
        with open(path, "r+b") as handle:
            handle.truncate(end)
    records, kept, rejected = [], [], []
    for number, line in enumerate(data[:end].splitlines(keepends=True), 1):
        if not line.strip():
            continue
        record, problem = _parse(line, fields or {})
        if problem is None:
            records.append(record)
            kept.append(line)
            continue
        rejected.append(line)
        moved = f"; moved to {path.name}.rejected" if repair else ""
        warnings.warn(f"{path}, line {number}: {problem}; skipped, so it will be run again{moved}",
                      CorruptRecordWarning, stacklevel=2)
    if repair and rejected:
        _set_aside(path, kept, rejected)
    return records


def read_samples(path: Path, repair: bool = False) -> list[dict]:
    """`read_records` for an eval run's sample file: each record needs `SAMPLE_FIELDS`."""
    return read_records(path, repair, SAMPLE_FIELDS)


def append_records(path: Path, records: list[dict]) -> None:
    """Append `records` as one write of whole lines, flushed to disk before returning."""
    if not records:
        return
    payload = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode()
    with open(path, "ab") as handle:
        handle.write(payload)
        handle.flush()
        os.fsync(handle.fileno())


def _parse(line: bytes, fields: dict[str, type]) -> tuple[dict | None, str | None]:
    """(record, None) for a usable line, else (None, what is wrong with it)."""
    try:
        record = json.loads(line)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        return None, f"not valid JSON ({getattr(err, 'msg', err)})"
    if not isinstance(record, dict):
        return None, f"a JSON {type(record).__name__}, not a record object"
    missing = [name for name in fields if name not in record]
    if missing:
        return None, f"the record lacks {', '.join(missing)}"
    wrong = [f"{name}={record[name]!r}" for name, kind in fields.items()
             if not isinstance(record[name], kind) or (kind is not bool and isinstance(record[name], bool))]
    if wrong:
        return None, f"the record has a field of the wrong type ({', '.join(wrong)})"
    return record, None


def _set_aside(path: Path, kept: list[bytes], rejected: list[bytes]) -> None:
    """Append the rejected lines to `<path>.rejected`, then replace `path` by its kept lines (atomically)."""
    with open(path.with_name(path.name + ".rejected"), "ab") as handle:
        handle.write(b"".join(rejected))
        handle.flush()
        os.fsync(handle.fileno())
    temporary = path.with_name(path.name + ".tmp")
    with open(temporary, "wb") as handle:
        handle.write(b"".join(kept))
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
