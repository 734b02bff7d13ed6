"""Every bad input fails before any model call, with a message that names the argument and the fix.

The table GUARDED lists the guarded inputs of `unmask.generate` at a glance: (prompts, keyword arguments, the
argument the message must name, a fragment of the fix). The model is a tiny real Llama with a forward hook that
counts calls, so "no model call" is checked on the module itself, whatever path the loop takes.
"""

from __future__ import annotations

import dataclasses
import math
import warnings

import pytest
import torch
from conftest import tiny_llama

import unmask

NAN, INF = math.nan, math.inf
MAX_POSITIONS = 64
OK = [[5, 6, 7]]

# (prompts, kwargs, argument named in the message, fragment of the message)
GUARDED = [
    # DecodeConfig fields: NaN / inf / wrong types / ranges
    (OK, {"temperature": NAN}, "temperature", "got nan"),
    (OK, {"temperature": INF}, "temperature", "got inf"),
    (OK, {"temperature": "0.7"}, "temperature", "got '0.7' (a str)"),
    (OK, {"cfg_scale": NAN}, "cfg_scale", "got nan"),
    (OK, {"top_p": NAN}, "top_p", "got nan"),
    (OK, {"top_p": 0}, "top_p", "in (0, 1]"),
    (OK, {"top_k": 2.5}, "top_k", "got 2.5 (a float)"),
    (OK, {"seed": "abc"}, "seed", "got 'abc' (a str)"),
    (OK, {"seed": 1.9}, "seed", "got 1.9 (a float)"),
    (OK, {"seed": True}, "seed", "got True (a bool)"),
    (OK, {"gen_length": 16.0}, "gen_length", "an integer >= 1"),
    (OK, {"block_length": "8"}, "block_length", "an integer >= 1"),
    (OK, {"stop": [""]}, "stop", "non-empty"),
    (OK, {"stop": [5]}, "stop", "a list of strings"),
    (OK, {"eos_early_stop": "no"}, "eos_early_stop", "True or False"),
    (OK, {"cache": "full"}, "cache", "one of ('none', 'prefix', 'dual')"),
    # planner options: NaN / inf / wrong types / budgets that cannot be spent
    (OK, {"planner": "threshold", "tau": "0.9"}, "tau", "got '0.9' (a str)"),
    (OK, {"planner": "threshold", "tau": NAN}, "tau", "in [0, 1]"),
    (OK, {"planner": "threshold", "start_stride": NAN}, "start_stride", "got nan"),
    (OK, {"planner": "entropy_bound", "gamma": NAN}, "gamma", "got nan"),
    (OK, {"planner": "entropy_bound", "gamma": INF}, "gamma", "got inf"),
    (OK, {"planner": "entropy_bound", "start_stride": NAN}, "start_stride", "got nan"),
    (OK, {"planner": "dilated", "defer_below": NAN}, "defer_below", "in [0, 1]"),
    (OK, {"planner": "klass", "kl_threshold": -0.1}, "kl_threshold", ">= 0"),
    (OK, {"planner": "klass", "history": 0}, "history", "an integer >= 1"),
    (OK, {"planner": "credit", "beta": 1.5}, "beta", "in [0, 1]"),
    (OK, {"planner": "credit", "alpha": NAN}, "alpha", "got nan"),
    (OK, {"planner": "binary", "defer_below": 1.5}, "defer_below", "in [0, 1]"),
    (OK, {"planner": "dilated", "base": 2.0}, "base", "got 2.0 (a float)"),
    (OK, {"planner": "confidence", "steps": 8.5}, "steps", "an integer >= 1"),
    (OK, {"planner": "confidence", "steps": 100}, "steps=100", "use steps <= 16"),
    (OK, {"planner": "margin", "steps": 40, "gen_length": 40, "block_length": 32}, "steps=40", "use steps <= 17"),
    # prompts: ids outside the vocabulary, empty batches, non-integer ids, the mask token
    ([[5, 400, 7]], {}, "prompts[0]", "token id 400, outside the model's vocabulary [0, "),
    ([[5], [-3]], {}, "prompts[1]", "token id -3"),
    (torch.zeros(0, 4, dtype=torch.long), {}, "prompt", "no rows"),
    (torch.tensor([[5.0, 7.9]]), {}, "prompt", "dtype torch.float32"),
    ([[5, 1.5]], {}, "prompts[0][1]", "token ids must be ints"),
    ([[5, True]], {}, "prompts[0][1]", "token ids must be ints"),
    (["text", [5]], {}, "prompts", "all be strings, or all be lists of token ids"),
    (5, {}, "prompts", "got a int"),
    ([], {}, "prompts", "no prompts"),
    ([[5, 1]], {}, "prompt", "mask token id 1"),
    (["ok", "caf\udce9"], {}, "prompts[1]", "not valid Unicode text"),
    (OK, {"on_step": "print"}, "on_step", "a function taking a StepEvent"),
    # lengths: the fix says how many tokens fit, or that the prompt alone is too long
    ([[5] * 60], {}, "gen_length", "4 generated tokens fit after it, so lower gen_length to at most 4"),
    ([[5] * 70], {}, "prompt alone (70 tokens)", "shorten it to at most 48 tokens"),
]


@pytest.fixture(scope="module")
def spied(tokenizer):
    """(denoiser, calls): a tiny model whose every forward appends to `calls`."""
    model = unmask.wrap_model(tiny_llama(len(tokenizer), max_positions=MAX_POSITIONS), tokenizer, "bidirectional_llama")
    calls = []
    model.model.register_forward_pre_hook(lambda module, args: calls.append(1))
    return model, calls


def test_the_spy_sees_model_calls(spied):
    model, calls = spied
    calls.clear()
    unmask.generate(model, OK, gen_length=8, block_length=8)
    assert calls


@pytest.mark.parametrize("prompts,kwargs,argument,fragment", GUARDED,
                         ids=[f"{a}:{f}"[:60] for _, _, a, f in GUARDED])
def test_bad_input_is_named_before_any_model_call(spied, prompts, kwargs, argument, fragment):
    model, calls = spied
    calls.clear()
    with pytest.raises(ValueError) as error:
        unmask.generate(model, prompts, **{"gen_length": 16, "block_length": 8, **kwargs})
    message = str(error.value)
    assert argument in message and fragment in message, message
    assert calls == []


def test_every_float_option_of_every_planner_rejects_nan_inf_and_strings():
    """Not just the cases above: each option annotated `float` of each registered planner."""
    checked = []
    for name, cls in unmask.planners.PLANNERS.items():
        for field in dataclasses.fields(cls):
            if "float" not in str(field.type):
                continue
            checked.append(f"{name}.{field.name}")
            for bad in (NAN, INF, -INF, "0.5"):
                with pytest.raises(ValueError, match=f"{name}: {field.name} must be"):
                    unmask.get_planner(name, **{field.name: bad})
    assert {"threshold.tau", "entropy_bound.gamma", "dilated.defer_below", "binary.defer_below"} <= set(checked)


def test_numpy_scalars_are_accepted_and_stored_as_python_numbers():
    np = pytest.importorskip("numpy")
    config = unmask.DecodeConfig(seed=np.int64(3), temperature=np.float32(0.5), gen_length=np.int64(16))
    assert type(config.seed) is int and type(config.temperature) is float and type(config.gen_length) is int


# --------------------------------------------------------------------------------------------------------------
# The command line: checked before the model loads; any bytes read as a prompt; --escapes keeps non-ASCII text
# --------------------------------------------------------------------------------------------------------------

CLI_GUARDED = [  # (extra arguments, fragment of the error)
    (["--temperature", "nan"], "temperature must be >= 0"),
    (["--gen-length", "0"], "gen_length must be an integer >= 1"),
    (["--block-length", "0"], "block_length must be an integer >= 1"),
    (["--stop", ""], "stop strings must be non-empty"),
    (["--planner", "threshold", "--tau", "nan"], "threshold: tau must be in [0, 1]"),
    (["--planner", "entropy_bound", "--gamma", "inf"], "entropy_bound: gamma must be >= 0"),
    (["--planner", "confidence", "--steps", "100", "--gen-length", "16"], "use steps <= 16"),
    (["--dtype", "bogus"], "argument --dtype: unknown dtype 'bogus': use one of float32"),
    (["--device", "tpu9"], "argument --device: unknown device 'tpu9': write cpu, cuda, cuda:N"),
]
EVAL_GUARDED = [
    (["--limit", "0"], "argument --limit: must be an integer >= 1, got '0'"),
    (["--batch-size", "0"], "argument --batch-size: must be an integer >= 1, got '0'"),
]


@pytest.fixture
def no_loading(monkeypatch):
    """Make loading a model a test failure; returns the list of attempted loads."""
    loads = []
    monkeypatch.setattr(unmask, "load_model", lambda *a, **k: loads.append(a) or pytest.fail("the model was loaded"))
    return loads


@pytest.mark.parametrize("command,extra,fragment",
                         [("generate", e, f) for e, f in CLI_GUARDED] + [("eval", e, f) for e, f in CLI_GUARDED]
                         + [("eval", e, f) for e, f in EVAL_GUARDED],
                         ids=lambda v: " ".join(v) if isinstance(v, list) else v[:20])
def test_cli_checks_arguments_before_loading_the_model(no_loading, capsys, tmp_path, command, extra, fragment):
    from unmask import cli

    head = ["generate", "x"] if command == "generate" else ["eval", "--task", "arith", "--limit", "2", "--out",
                                                            str(tmp_path)]
    try:
        code = cli.main([*head, "--model", str(tmp_path), *extra])
    except SystemExit as exit:  # argparse's own errors (--dtype, --device)
        code = exit.code
    assert code == 2
    assert fragment in capsys.readouterr().err
    assert no_loading == []


@pytest.mark.parametrize("typed,escapes,meant", [
    ("Résoudre 🦄\\n1+1=", True, "Résoudre 🦄\n1+1="),
    ("Résoudre 🦄\\n1+1=", False, "Résoudre 🦄\\n1+1="),
    ("tab\\there \\\\n stays \\d \\u00e9 \\x41", True, "tab\there \\n stays \\d é A"),
    ("\udcff\udcfe Solve", False, "\ufffd\ufffd Solve"),  # bytes ff fe as sys.argv holds them (surrogateescape)
    ("caf\udce9 \\n", True, "caf\ufffd \n"),
])
def test_cli_prompt_text(typed, escapes, meant):
    from unmask.cli import _prompt_text

    assert _prompt_text(typed, escapes) == meant


def test_cli_escapes_reach_the_decoder_intact(monkeypatch, spied, capsys):
    from unmask import cli

    model, _ = spied
    seen = []
    decode = unmask.decode

    def spy(model, prompt, config, **kwargs):
        seen.append(prompt)
        return decode(model, prompt, config, **kwargs)

    monkeypatch.setattr(unmask, "load_model", lambda *a, **k: model)
    monkeypatch.setattr(unmask, "decode", spy)
    assert cli.main(["generate", "Résoudre 🦄\\nx", "--escapes", "--gen-length", "8", "--block-length", "8"]) == 0
    assert seen == ["Résoudre 🦄\nx"]


def test_cli_reads_a_non_utf8_prompt_without_a_traceback(tmp_path, tokenizer):
    import os
    import subprocess
    import sys

    model = tiny_llama(len(tokenizer))
    model.config.mask_token_id = tokenizer.mask_token_id
    model.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    result = subprocess.run([sys.executable, "-m", "unmask", "generate", b"\xff\xfe Solve 1+1=", "--model", tmp_path,
                             "--gen-length", "8", "--block-length", "8"], capture_output=True,
                            env={**os.environ, "OMP_NUM_THREADS": "1", "COLUMNS": "200"})
    stderr = result.stderr.decode("utf-8", "replace")
    assert result.returncode == 0, stderr
    assert "not valid UTF-8" in stderr and "Traceback" not in stderr
    assert b"NFE" in result.stdout


# --------------------------------------------------------------------------------------------------------------
# `unmask eval` resume: a corrupt record names its file and line, is set aside, and its sample is decoded again
# --------------------------------------------------------------------------------------------------------------

def test_eval_resume_skips_corrupt_records_naming_file_and_line(tmp_path, tiny_model):
    import json

    from unmask.evaluate import evaluate, load_records
    from unmask.evaluate.records import CorruptRecordWarning
    from unmask.tasks import get_task

    task = get_task("sudoku")
    records = load_records(task, None, "test", 4, seed=1)
    config = unmask.DecodeConfig(planner="dilated", gen_length=8, block_length=8)
    first = evaluate(tiny_model, task, records, config, tmp_path, batch_size=2, progress=False)
    shard = tmp_path / first["directory"] / "samples.0.jsonl"
    lines = shard.read_text().splitlines(keepends=True)
    no_correct = json.loads(lines[2])
    del no_correct["correct"]
    lines[1], lines[2] = "garbage\n", json.dumps(no_correct) + "\n"
    shard.write_text("".join(lines))
    with pytest.warns(CorruptRecordWarning) as caught:
        second = evaluate(tiny_model, task, records, config, tmp_path, batch_size=2, progress=False)
    messages = [str(w.message) for w in caught]
    assert f"{shard}, line 2: not valid JSON" in messages[0]
    assert f"{shard}, line 3: the record lacks correct" in messages[1]
    assert second["samples"] == 4 and second["complete"]
    assert sorted(json.loads(line)["id"] for line in shard.read_text().splitlines()) == [0, 1, 2, 3]
    assert len((tmp_path / first["directory"] / "samples.0.jsonl.rejected").read_text().splitlines()) == 2
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # set aside once: a third run reads a clean file
        assert evaluate(tiny_model, task, records, config, tmp_path, batch_size=2, progress=False)["samples"] == 4


def test_a_torn_last_line_is_still_dropped_silently(tmp_path):
    from unmask.evaluate.records import read_samples

    path = tmp_path / "samples.0.jsonl"
    path.write_text('{"id": 0, "correct": true, "nfe": 3, "tokens": 4, "seconds": 0.1}\n{"id": 1, "corr')
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert [r["id"] for r in read_samples(path, repair=True)] == [0]
    assert path.read_text().endswith("0.1}\n")


def test_cli_eval_names_a_corrupt_line_in_one_warning_line_and_finishes(monkeypatch, capsys, tmp_path, tiny_model):
    from unmask import cli

    monkeypatch.setattr(unmask, "load_model", lambda *a, **k: tiny_model)
    command = ["eval", "--task", "arith", "--limit", "3", "--gen-length", "8", "--block-length", "8", "--out",
               str(tmp_path)]
    assert cli.main(command) == 0
    (shard,) = tmp_path.glob("*/samples.0.jsonl")
    lines = shard.read_text().splitlines(keepends=True)
    shard.write_text(lines[0] + "{not json\n" + "".join(lines[2:]))
    capsys.readouterr()
    assert cli.main(command) == 0
    captured = capsys.readouterr()
    assert f"unmask eval: warning: {shard}, line 2: not valid JSON" in captured.err
    assert "Traceback" not in captured.err and '"samples": 3' in captured.out
