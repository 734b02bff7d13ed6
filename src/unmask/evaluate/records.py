"""Append-only JSONL result files that survive `kill -9`: whole lines or nothing, no duplicates on resume."""

from __future__ import annotations

import json
import os
from pathlib import Path


def read_records(path: Path, repair: bool = False) -> list[dict]:
    """Every complete record in `path`. A torn last line (a write cut by a kill) is ignored, and with `repair` (only
    for a file this process owns) also cut from the file so that appends start on a clean line."""
    if not path.exists():
        return []
    data = path.read_bytes()
    end = data.rfind(b"\n") + 1
    if repair and end != len(data):
        with open(path, "r+b") as handle:
            handle.truncate(end)
    records = []
    for line in data[:end].splitlines():
        if line.strip():
            records.append(json.loads(line))
    return records


def append_records(path: Path, records: list[dict]) -> None:
    """Append `records` as one write of whole lines, flushed to disk before returning."""
    if not records:
        return
    payload = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode()
    with open(path, "ab") as handle:
        handle.write(payload)
        handle.flush()
        os.fsync(handle.fileno())
