"""The demo: per-planner accuracy, calls and time on fresh problems, and the marked, coloured example."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from unmask.demo import PLANNERS, example_index, main, run_demo, show_example, summary
from unmask.tasks import get_task


def test_demo_scores_each_planner_on_the_same_problems(tiny_model):
    task = get_task("digits")
    records = task.generate(6, seed=1)
    runs = run_demo(tiny_model, task, records, block_length=8, gen_length=16)
    assert [r.label for r in runs] == [label for label, _, _ in PLANNERS]
    for run in runs:
        assert run.correct == [task.score(r, t) for r, t in zip(records, run.result.texts)]
        assert run.result.tokens.shape == (6, 16)
    by_label = {r.label: r for r in runs}
    dus, matched = by_label["DUS (dilated)"], by_label["confidence, NFE-matched"]
    assert dus.calls_per_answer <= by_label["token-by-token"].calls_per_answer
    assert matched.result.nfe.tolist() == dus.result.nfe.tolist()  # the baseline spends DUS's calls

    out = io.StringIO()
    console = Console(file=out, width=200, color_system=None)
    console.print(summary(runs, "t"))
    show_example(console, tiny_model, task, records[0], runs, 0)
    text = out.getvalue()
    assert all(label in text for label, _, _ in PLANNERS) and "95% interval" in text
    assert text.count("right") + text.count("WRONG") == len(PLANNERS)
    assert f"gold: {task.gold(records[0])}" in text


def test_example_is_the_first_disagreement():
    class Run:
        def __init__(self, correct):
            self.correct = correct

    assert example_index([Run([True, False, True]), Run([True, True, True])]) == 1
    assert example_index([Run([False, False]), Run([False, False])]) == 0


def test_demo_rejects_bad_arguments_before_loading_a_model():
    with pytest.raises(SystemExit):
        main(["--n", "0"])
    with pytest.raises(ValueError, match="unknown task"):
        main(["--task", "sudoku9"])
    with pytest.raises(ValueError, match="unknown task"):
        main(["--task", "sudoku,sudoku9"])  # every task is checked before the model loads


def test_demo_prints_a_table_and_a_marked_example_per_task(capsys):
    assert main(["--task", "sudoku,countdown3", "--n", "4"]) == 0
    text = capsys.readouterr().out
    for name in ("sudoku", "countdown3"):
        assert f"on 4 fresh {name} problems" in text and f"{name} problem " in text
    assert text.count("95% interval") == 2
    assert text.count(" right") + text.count(" WRONG") == 2 * len(PLANNERS)
