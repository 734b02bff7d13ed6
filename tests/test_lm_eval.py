"""lm-evaluation-harness integration, offline: a local task YAML over a local JSON file."""

from __future__ import annotations

import json
import os

import pytest

pytest.importorskip("lm_eval")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import unmask.integrations.lm_eval as integration  # noqa: E402
from test_evaluate import model_dir  # noqa: E402,F401 (fixture)

GENERATE_YAML = """task: unmask_sudoku_local
dataset_path: json
dataset_kwargs:
  data_files:
    test: {data}
test_split: test
output_type: generate_until
doc_to_text: "Solve the sudoku:\\n{{{{input}}}}\\nSolution:\\n"
doc_to_target: "{{{{output}}}}"
generation_kwargs:
  until: ["\\n\\n"]
  max_gen_toks: 16
metric_list:
  - metric: exact_match
"""

CHOICE_YAML = """task: unmask_choice_local
dataset_path: json
dataset_kwargs:
  data_files:
    test: {data}
test_split: test
output_type: multiple_choice
doc_to_text: "Solve the sudoku:\\n{{{{input}}}}\\nSolution:\\n"
doc_to_choice: "{{{{[output, wrong]}}}}"
doc_to_target: 0
metric_list:
  - metric: acc
"""


class Request:
    def __init__(self, *args):
        self.args = args


@pytest.fixture(scope="module")
def lm(model_dir):  # noqa: F811
    return integration.UnmaskLM(pretrained=str(model_dir), planner="dilated", block_length=8, gen_length=16,
                                batch_size=3, mc_num=4)


def test_generate_until_batches_and_cuts_at_until(lm, monkeypatch):
    batches = []
    real = integration.decode
    monkeypatch.setattr(integration, "decode", lambda model, prompts, config: batches.append(
        (len(prompts), config.stop, config.gen_length)) or real(model, prompts, config))
    requests = [Request(f"Solve the sudoku:\n{i}000\n0000\n0000\n0000\nSolution:\n", {"until": ["1"]})
                for i in range(5)]
    requests.append(Request("Use 1,2 to make 3.\nEquations:\n", {"until": ["="], "max_gen_toks": 8}))
    outputs = lm.generate_until(requests)
    assert len(outputs) == 6
    assert all("1" not in text for text in outputs[:5]) and "=" not in outputs[5]
    assert batches == [(3, ("1",), 16), (2, ("1",), 16), (1, ("=",), 8)]


def test_loglikelihood_prefers_the_likelier_continuation_shape(lm):
    (ll, greedy), = lm.loglikelihood([Request("Solve the sudoku:\n", "1234")])
    assert ll < 0 and isinstance(greedy, bool)
    rolling = lm.loglikelihood_rolling([Request("1234\n4321")])
    assert len(rolling) == 1 and rolling[0] < 0


def test_bad_planner_option_fails_before_loading(model_dir):  # noqa: F811
    with pytest.raises(ValueError, match="its options are"):
        integration.UnmaskLM(pretrained=str(model_dir), planner="threshold", base=2)


def test_simple_evaluate_on_local_yaml_tasks(tmp_path, model_dir):  # noqa: F811
    from lm_eval import simple_evaluate
    from lm_eval.tasks import TaskManager

    data = tmp_path / "sudoku.jsonl"
    records = [{"input": "1003\n0300\n3210\n4132", "output": "1423\n2341\n3214\n4132", "wrong": "1111\n1111\n1111\n1111"},
               {"input": "2000\n4020\n3000\n1004", "output": "2143\n4321\n3412\n1234", "wrong": "2222\n2222\n2222\n2222"}]
    data.write_text("".join(json.dumps(r) + "\n" for r in records))
    (tmp_path / "generate.yaml").write_text(GENERATE_YAML.format(data=data))
    (tmp_path / "choice.yaml").write_text(CHOICE_YAML.format(data=data))
    results = simple_evaluate(
        model="unmask",
        model_args=f"pretrained={model_dir},planner=threshold,tau=0.8,block_length=8,gen_length=16,mc_num=4",
        tasks=["unmask_sudoku_local", "unmask_choice_local"], task_manager=TaskManager(include_path=str(tmp_path)),
        batch_size=2,
    )
    assert "exact_match,none" in results["results"]["unmask_sudoku_local"]
    assert "acc,none" in results["results"]["unmask_choice_local"]
    assert results["config"]["model_args"].startswith("pretrained=")


def test_lm_eval_command_line_under_two_processes(tmp_path, model_dir, free_port):  # noqa: F811
    import subprocess
    import sys

    data = tmp_path / "d.jsonl"
    data.write_text("".join(json.dumps({"input": f"{i}003\n0300\n3210\n4132", "output": "x", "wrong": "y"}) + "\n"
                            for i in range(5)))
    (tmp_path / "generate.yaml").write_text(GENERATE_YAML.format(data=data))
    out = tmp_path / "out"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-port", free_port, "-m",
           "unmask", "lm-eval", "--model", "unmask", "--model_args",
           f"pretrained={model_dir},planner=dilated,block_length=8,gen_length=16", "--tasks", "unmask_sudoku_local",
           "--include_path", str(tmp_path), "--batch_size", "2", "--log_samples", "--output_path", str(out)]
    result = subprocess.run(cmd, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    (samples,) = out.rglob("samples_unmask_sudoku_local_*.jsonl")
    docs = sorted(json.loads(line)["doc_id"] for line in samples.read_text().splitlines())
    assert docs == [0, 1, 2, 3, 4], "each request answered once across the two processes"
