"""The demo `scripts/demo.sh` runs: how often each planner answers fresh problems right, at what cost, and one
problem's answers coloured by the call that revealed each token, marked right or wrong.

    python -m unmask.demo [--task sudoku] [--n 100] [--model DIR]

The default task is sudoku, where the bundled model's planners part most (its card: at B = 8, DUS 91.6% against
NFE-matched confidence's 71.4% on 500 puzzles). `--task sudoku,countdown3` adds countdown3, where DUS's lead over
NFE-matched confidence is 5 points on 500 problems (significant only paired), too small to show on 100.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, replace

from rich.console import Console
from rich.table import Table
from rich.text import Text

from unmask.config import DecodeConfig
from unmask.decode import DecodeResult, decode
from unmask.evaluate.harness import DEFAULT_EVAL_SEED
from unmask.evaluate.stats import wilson_interval
from unmask.render import legend, reveal_colour
from unmask.tasks import Task, get_task

# (label, planner, options): the reference, DUS, confidence at DUS's number of calls, and the adaptive planner with
# the best accuracy at B = 8 in the sudoku grid of BENCHMARKS.md (v1 weights; v2 in the model card)
PLANNERS = [
    ("token-by-token", "confidence", {}),
    ("DUS (dilated)", "dilated", {}),
    ("confidence, NFE-matched", "confidence", {"match": "dilated"}),
    ("threshold tau=0.9", "threshold", {"tau": 0.9}),
]


@dataclass(frozen=True)
class PlannerRun:
    """One planner on all the demo's problems.

    Attributes:
        label: the planner as the table names it.
        correct: list of bools, one per problem.
        result: the DecodeResult (tokens (N, G), texts, nfe (N,), reveal_step (N, G), seconds).
    """

    label: str
    correct: list[bool]
    result: DecodeResult

    @property
    def accuracy(self) -> float:
        return sum(self.correct) / len(self.correct)

    @property
    def calls_per_answer(self) -> float:
        return float(self.result.nfe.float().mean())


def run_demo(model, task: Task, records: list[dict], block_length: int = 8, gen_length: int | None = None,
             planners=PLANNERS) -> list[PlannerRun]:
    """Decode every record with each planner (greedy, one batch each, EOS early stop) and score the answers."""
    base = DecodeConfig(gen_length=gen_length or task.gen_length, block_length=block_length)
    prompts = [task.prompt(r, model.tokenizer) for r in records]
    runs = []
    for label, planner, options in planners:
        result = decode(model, prompts, replace(base, planner=planner, planner_options=options))
        runs.append(PlannerRun(label, [task.score(r, t) for r, t in zip(records, result.texts)], result))
    return runs


def summary(runs: list[PlannerRun], title: str) -> Table:
    """Accuracy with its 95% Wilson interval, calls per answer and wall time, one row per planner."""
    table = Table(title=title, header_style="bold")
    for column in ("planner", "accuracy", "95% interval", "calls / answer", "wall time"):
        table.add_column(column, justify="left" if column == "planner" else "right")
    for run in runs:
        low, high = wilson_interval(sum(run.correct), len(run.correct))
        table.add_row(run.label, f"{100 * run.accuracy:.0f}%", f"[{100 * low:.0f}, {100 * high:.0f}]",
                      f"{run.calls_per_answer:.1f}", f"{run.result.seconds:.2f} s")
    return table


def example_index(runs: list[PlannerRun]) -> int:
    """The first problem on which the planners disagree (right against wrong); the first problem if none."""
    for i in range(len(runs[0].correct)):
        if len({run.correct[i] for run in runs}) > 1:
            return i
    return 0


def show_example(console: Console, model, task: Task, record: dict, runs: list[PlannerRun], i: int) -> None:
    """Each planner's answer to problem `i`, coloured by reveal call, then right (green) or wrong (red)."""
    prompt = task.prompt(record, model.tokenizer).rstrip().replace("\n", " / ")
    gold = str(task.gold(record)).replace("\n", " / ")
    console.print(Text("prompt: ", style="bold") + Text(prompt) + Text(f"   gold: {gold}", style="bold"))
    for run in runs:
        calls = int(run.result.nfe[i])
        line = Text(f"{run.label:<26} {calls:>2} calls  ")
        line += _one_line(model, run.result.tokens[i].tolist(), run.result.reveal_step[i].tolist())
        line += Text("  right" if run.correct[i] else "  WRONG", style="bold green" if run.correct[i] else "bold red")
        console.print(line)
        console.print(Text(" " * 37) + legend(calls))


def _one_line(model, tokens: list[int], reveal_step: list[int]) -> Text:
    """The answer up to its first end token, each token coloured by its reveal call, line breaks shown as ` / `."""
    text, last = Text(), max(reveal_step, default=1)
    for token, step in zip(tokens, reveal_step):
        if token in model.stop_ids:
            break
        text.append(model.tokenizer.decode([token]).replace("\n", " / "), style=reveal_colour(step, last))
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m unmask.demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--task", default="sudoku",
                        help="tasks with a generator, comma-separated (sudoku, countdown3, digits, ...)")
    parser.add_argument("--n", type=int, default=100, help="fresh problems to decode")
    parser.add_argument("--seed", type=int, default=DEFAULT_EVAL_SEED, help="seed of the problems (never trained on)")
    parser.add_argument("--block-length", type=int, default=8)
    parser.add_argument("--model", help="model directory (default: the bundled model)")
    args = parser.parse_args(argv)
    if args.n < 1:
        parser.error(f"--n must be at least 1, got {args.n}")
    tasks = [get_task(name.strip()) for name in args.task.split(",")]
    problems = [task.generate(args.n, args.seed) for task in tasks]  # the fix is named for a task without a generator
    import unmask

    model = unmask.load_model(args.model)
    console = Console(highlight=False)
    where = args.model or "the bundled model"
    for task, records in zip(tasks, problems):
        runs = run_demo(model, task, records, block_length=args.block_length)
        console.print(summary(runs, f"{where} on {args.n} fresh {task.name} problems "
                                    f"(seed {args.seed}; G = {task.gen_length}, B = {args.block_length}, greedy)"))
        i = example_index(runs)
        which = "the first problem on which the planners disagree" if i or len({r.correct[0] for r in runs}) > 1 \
            else "the first problem (the planners all agree on every one)"
        console.rule(f"{task.name} problem {i + 1}: {which}; colour = the call that revealed the token")
        show_example(console, model, task, records[i], runs, i)
        console.print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
