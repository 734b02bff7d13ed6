"""Streaming the diffusion: committed-text deltas that never change, the terminal draft view, `generate --stream`."""

from __future__ import annotations

import pytest

import unmask
from unmask.cli import main
from unmask.render import draft_text
from unmask.streaming import CommittedText


@pytest.mark.parametrize("planner,options", [("dilated", {}), ("threshold", {"tau": 0.5}), ("random", {"seed": 1})])
@pytest.mark.parametrize("stop", [(), ("=",), ("\n#",)])
def test_committed_deltas_concatenate_to_the_answer(planner, options, stop):
    model = unmask.load_model()
    prompt = "Question: Tom has 9 apples. Tom buys 3 more. How many apples does Tom have now?\nAnswer:\n"
    stream = CommittedText(model.tokenizer, model.mask_id, model.stop_ids, stop)
    deltas, shown = [], []

    def on_step(event):
        deltas.append(stream.update(event.tokens[0].tolist()))
        shown.append(stream.sent)

    result = unmask.generate(model, prompt, planner=planner, gen_length=32, block_length=16, stop=stop,
                             on_step=on_step, **options)
    deltas.append(stream.finish(result.texts[0]))
    assert "".join(deltas) == result.texts[0]
    assert all(result.texts[0].startswith(s) for s in shown), "a shown text changed later"


def test_stop_string_prefix_is_held_back(tokenizer):
    ids = tokenizer("9+3=12\n#### 12", add_special_tokens=False)["input_ids"]
    stream = CommittedText(tokenizer, mask_id=1, stop_ids=(2,), stop=("\n####",))
    newline = next(n for n in range(1, len(ids)) if tokenizer.decode(ids[:n]).endswith("\n"))
    assert stream.update(ids[:newline] + [1]) == "9+3=12"  # the "\n" may start the stop string: held back
    assert stream.update(ids + [1]) == ""  # the stop string completed: nothing more, ever
    assert stream.finish("9+3=12") == ""


def test_draft_text_marks_committed_draft_and_masks(tokenizer):
    ids = tokenizer("ab", add_special_tokens=False)["input_ids"]
    text = draft_text(tokenizer, [ids[0], 1, ids[-1], 1], mask_id=1, stop_ids=(2,))
    assert text.plain == tokenizer.decode([ids[0]]) + "\u00b7" + tokenizer.decode([ids[-1]]) + "\u00b7"
    styles = [span.style for span in text.spans]
    assert styles == ["bold", "dim", "dim italic", "dim"]


def test_generate_stream_prints_every_call(capsys):
    prompt = "Use 15,44,79 to make 50.\\nEquations:\\n"
    assert main(["generate", prompt, "--escapes", "--stream", "--gen-length", "16", "--block-length", "16"]) == 0
    out = capsys.readouterr().out
    calls = [line for line in out.splitlines() if line.startswith("call ")]
    result = unmask.generate(unmask.load_model(), "Use 15,44,79 to make 50.\nEquations:\n", planner="dilated",
                             gen_length=16, block_length=16)
    assert [line.split(":")[0] for line in calls] == [f"call {n}" for n in range(1, int(result.nfe[0]) + 1)]
    assert result.texts[0] in calls[-1]
