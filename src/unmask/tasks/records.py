"""Reading benchmark records from local files: .jsonl (optionally .gz), .json and .parquet. Nothing is downloaded."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

SUFFIXES = (".jsonl", ".jsonl.gz", ".json", ".parquet")


def find_split(path: str | Path, split: str) -> Path:
    """`path` itself when it is a file, else the `{split}` file inside the directory `path`."""
    path = Path(path)
    if path.is_file():
        return path
    if path.is_dir():
        candidates = [path / f"{split}{suffix}" for suffix in SUFFIXES]
        for candidate in candidates:
            if candidate.is_file():
                return candidate
        names = ", ".join(c.name for c in candidates)
        raise FileNotFoundError(f"no {split!r} split in {path}: expected one of {names}")
    raise FileNotFoundError(f"{path} does not exist: pass a local .jsonl, .json or .parquet file, or a directory "
                            f"holding {split}.jsonl (nothing is downloaded)")


def read_records(path: Path) -> list[dict]:
    """The records in `path`: one JSON object per line (.jsonl, .jsonl.gz), a JSON list or `{"data": [...]}` (.json),
    or the rows of a parquet table (needs pyarrow)."""
    name = path.name
    if name.endswith((".jsonl", ".jsonl.gz")):
        opener = gzip.open if name.endswith(".gz") else open
        with opener(path, "rt", encoding="utf-8") as f:
            return [_parse_line(line, path, n) for n, line in enumerate(f, 1) if line.strip()]
    if name.endswith(".json"):
        data = json.loads(path.read_text(encoding="utf-8"))
        data = data.get("data") if isinstance(data, dict) else data
        if not isinstance(data, list):
            raise ValueError(f"{path}: expected a JSON list of records or {{\"data\": [...]}}")
        return data
    if name.endswith(".parquet"):
        try:
            import pyarrow.parquet as pq
        except ImportError as err:
            raise ImportError(f"reading {path} needs pyarrow: pip install pyarrow (or pip install 'unmask[eval]')") \
                from err
        return pq.read_table(path).to_pylist()
    raise ValueError(f"{path}: unsupported file type; use one of {', '.join(SUFFIXES)}")


def check_fields(records: list[dict], fields: tuple[str, ...], path: Path, task: str) -> None:
    """Raise a ValueError naming the file, the record and the fields when a record lacks one of `fields`."""
    for n, record in enumerate(records, 1):
        if not isinstance(record, dict):
            raise ValueError(f"{path}: record {n} is not a JSON object; {task} records need fields {', '.join(fields)}")
        missing = [field for field in fields if field not in record]
        if missing:
            raise ValueError(f"{path}: record {n} lacks {', '.join(missing)}; {task} records need fields "
                             f"{', '.join(fields)} (the benchmark's official format)")


def _parse_line(line: str, path: Path, n: int) -> dict:
    try:
        return json.loads(line)
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}, line {n}: not valid JSON ({err.msg}); .jsonl files hold one record per line") \
            from err
