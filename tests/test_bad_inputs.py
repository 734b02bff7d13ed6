"""Every bad input fails before any model call, with a message that names the argument and the fix.

The table GUARDED lists the guarded inputs of `unmask.generate` at a glance: (prompts, keyword arguments, the
argument the message must name, a fragment of the fix). The model is a tiny real Llama with a forward hook that
counts calls, so "no model call" is checked on the module itself, whatever path the loop takes.
"""

from __future__ import annotations

import dataclasses
import math

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
