"""benchmarks/digits_by_operation.py: the per-kind tally over a sweep's samples."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "digits_by_operation.py"


@pytest.fixture(scope="module")
def script():
    spec = importlib.util.spec_from_file_location("digits_by_operation", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run(root: Path, name: str, planner: str, options: dict, samples: list[tuple[str, bool, int]]) -> None:
    run = root / "runs" / name
    run.mkdir(parents=True)
    (run / "run.json").write_text(json.dumps({"config": {"planner": planner, "planner_options": options,
                                                         "block_length": 8}}))
    (run / "samples.jsonl").write_text("\n".join(json.dumps({"prompt": p, "correct": c, "nfe": n})
                                                 for p, c, n in samples))


def test_kinds(script):
    assert script.kind("0347+0589=") == "add/sub" and script.kind("4731-2958=") == "add/sub"
    assert script.kind("5927*8=") == "mul"
    assert script.kind("0477*2+0618=") == "chain" and script.kind("0347+0589-0212=") == "chain"


def test_tally_counts_per_kind_and_planner(script, tmp_path, capsys, monkeypatch):
    problems = ["0347+0589=", "5927*8=", "0477*2+0618=", "0347+0589-0212="]
    _run(tmp_path, "a", "dilated", {}, [(p, ok, 3) for p, ok in zip(problems, [True, False, True, False])])
    _run(tmp_path, "b", "confidence", {"match": "dilated"}, [(p, True, 5) for p in problems])
    (tmp_path / "runs" / "unfinished").mkdir()
    rows = script.tally(tmp_path)
    by_planner = {row["planner"]: row for row in rows}
    assert set(by_planner) == {"dilated", "confidence match=dilated"}
    assert by_planner["dilated"]["counts"] == {"add/sub": (1, 1), "mul": (0, 1), "chain": (1, 2)}
    assert by_planner["confidence match=dilated"]["counts"]["chain"] == (2, 2)
    assert by_planner["dilated"]["nfe"] == 3.0
    monkeypatch.setattr("sys.argv", ["digits_by_operation.py", str(tmp_path)])
    script.main()
    table = capsys.readouterr().out
    assert "| 8 | dilated | 3.0 | 100.0" in table and "chain (n = 2)" in table
    monkeypatch.setattr("sys.argv", ["digits_by_operation.py", str(tmp_path / "runs" / "unfinished")])
    with pytest.raises(SystemExit, match="run the sweep first"):
        script.main()
