"""The `unmask` command line: generate, planners, train."""

from __future__ import annotations

import argparse
import contextlib
import codecs
import re
import sys

from unmask.sandbox import SandboxUnavailable
from unmask.sandbox import require as require_sandbox

ESCAPE = re.compile(r"\\(?:[\\'\"abfnrtv]|[0-7]{1,3}|x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8})")
"""The backslash escapes `--escapes` interprets (Python's string-literal escapes, without \\N{...})."""


def _option_value(text: str):
    """Parse a planner option given on the command line: int, float, None, or the string itself."""
    if text.lower() in ("none", "off"):
        return None
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def _planner_flags() -> dict[str, str]:
    """Every planner option name, mapped to its --flag (the union over registered planners and wrappers)."""
    from unmask.planners import PLANNERS, planner_options

    names = {name for planner in PLANNERS for name in planner_options(planner)}
    return {name: "--" + name.replace("_", "-") for name in sorted(names)}


def _generate(args) -> int:
    import unmask
    from rich.console import Console

    from unmask.render import coloured_tokens, legend, summary_table

    console = Console()
    planners = [args.planner] + ([args.compare] if args.compare else [])
    configs = [_decode_config(args, planner, _options_for(args, planner)) for planner in planners]  # checked here,
    prompt = _prompt_text(args.prompt, args.escapes)  # before the model loads
    model = unmask.load_model(args.model if args.model != "bundled" else None, device=args.device, dtype=args.dtype,
                              trust_remote_code=args.trust_remote_code)
    rows = []
    for planner, config in zip(planners, configs):
        options = config.planner_options
        with _stream_view(console, model, args.stream) as on_step:
            result = unmask.decode(model, prompt, config, on_step=on_step)
        nfe, steps = int(result.nfe[0]), result.reveal_step[0].tolist()
        label = planner + "".join(f" {k}={v}" for k, v in options.items())
        console.rule(f"[bold]{label}[/]  NFE {nfe}  {result.seconds:.3f}s")
        console.print(coloured_tokens(model.tokenizer, result.tokens[0].tolist(), steps, model.stop_ids))
        console.print(legend(nfe))
        rows.append((label, nfe, result.seconds, result.texts[0]))
    if len(rows) > 1:
        console.print(summary_table(rows))
    return 0


@contextlib.contextmanager
def _stream_view(console, model, stream: bool):
    """With --stream, an `on_step` that shows the draft after every model call (committed prefix bold, later reveals
    dimmed, masks as dots): redrawn in place on a terminal, one line per call otherwise. Yields None without it."""
    if not stream:
        yield None
        return
    from rich.live import Live

    from unmask.render import draft_text

    def view(event):
        return draft_text(model.tokenizer, event.tokens[0].tolist(), event.mask_id, model.stop_ids)

    if not console.is_terminal:
        yield lambda event: console.print(f"call {event.call}: ", view(event), sep="")
        return
    with Live(console=console, transient=True, auto_refresh=False) as live:
        yield lambda event: live.update(view(event), refresh=True)


def _prompt_text(text: str, escapes: bool) -> str:
    """The prompt as typed. Bytes that are not UTF-8 (which Python keeps as surrogate escapes in `sys.argv`) become
    U+FFFD, with a warning; with `escapes`, backslash escapes (\\n, \\t, \\xNN, \\uNNNN, ...) are interpreted and
    every other character, non-ASCII included, is kept as it is."""
    try:
        raw = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # lone surrogates that did not come from undecodable bytes
        raw = text.encode("utf-8", "surrogatepass")
    clean = raw.decode("utf-8", "replace")
    if clean != text:
        print("unmask: warning: the prompt is not valid UTF-8; undecodable bytes were replaced by U+FFFD",
              file=sys.stderr)
    if not escapes:
        return clean

    def unescape(match) -> str:
        try:
            return codecs.decode(match.group(0), "unicode_escape")
        except UnicodeDecodeError:
            raise ValueError(f"--escapes: {match.group(0)} is not a valid escape (a code point above U+10FFFF): "
                             f"write it as \\\\ to keep the backslash") from None

    return ESCAPE.sub(unescape, clean)


def _options_for(args, planner: str) -> dict:
    """The planner options set on the command line. With --compare each planner takes the flags it has; otherwise
    a flag the planner lacks is an error that lists its options (raised here, before any model call)."""
    from unmask.planners import PLANNERS, get_planner, planner_options

    options = {name: getattr(args, name) for name in _planner_flags() if getattr(args, name) is not None}
    if args.compare and planner in PLANNERS:
        options = {k: v for k, v in options.items() if k in planner_options(planner)}
    get_planner(planner, **options)
    return options


def _decode_config(args, planner: str, options: dict, task=None):
    from unmask.config import DecodeConfig

    gen_length = args.gen_length if args.gen_length is not None else task.gen_length if task is not None else 64
    return DecodeConfig(planner=planner, planner_options=options, gen_length=gen_length,
                        block_length=args.block_length, temperature=args.temperature, seed=args.seed,
                        eos_early_stop=not args.no_early_stop, stop=tuple(args.stop), cache=args.cache)


def _distributed():
    """(rank, world, barrier, device) under torchrun / accelerate launch; (0, 1, None, None) otherwise."""
    import os

    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return 0, 1, None, None
    import torch
    from accelerate import PartialState

    state = PartialState(cpu=not torch.cuda.is_available())
    return state.process_index, state.num_processes, state.wait_for_everyone, state.device


def _eval(args) -> int:
    import json

    import unmask
    from unmask.evaluate import evaluate, load_records
    from unmask.tasks import get_task

    task = get_task(args.task)
    options = _options_for(args, args.planner)
    config = _decode_config(args, args.planner, options, task)
    records = load_records(task, args.data, args.split, args.limit, args.seed_data)
    if task.runs_code:  # no sandbox: say so before loading the model
        require_sandbox()
    rank, world, barrier, device = _distributed()
    model_path = None if args.model == "bundled" else args.model
    model = unmask.load_model(model_path, device=args.device or device, dtype=args.dtype,
                              trust_remote_code=args.trust_remote_code)
    summary = evaluate(model, task, records, config, args.out, batch_size=args.batch_size,
                       model_path=model_path or str(unmask.bundled_model_path()), data=args.data, limit=args.limit,
                       seed=args.seed_data, rank=rank, world=world, barrier=barrier)
    if summary is not None:
        low, high = summary["ci95"]
        print(json.dumps({k: summary[k] for k in ("task", "planner", "options", "samples", "accuracy", "mean_nfe",
                                                  "tokens_per_second", "directory")}))
        print(f"accuracy {summary['accuracy']:.3f} [{low:.3f}, {high:.3f}]  NFE/sample {summary['mean_nfe']:.1f}")
    return 0


def _positive(text: str) -> int:
    """An argparse type for counts: an integer >= 1 (0 would silently mean the default, or never advance)."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, got {text!r}")
    return value


def _csv(cast):
    return lambda text: [cast(x) for x in text.split(",") if x]


def _sweep(args) -> int:
    import unmask
    from unmask.evaluate import load_records
    from unmask.evaluate.sweep import markdown_table, run_sweep, sweep_configs
    from unmask.planners import PLANNERS
    from unmask.tasks import get_task

    unknown = [p for p in args.planners if p not in PLANNERS]
    if unknown:
        raise ValueError(f"unknown planner(s) {', '.join(unknown)}: choose from {', '.join(PLANNERS)}")
    task = get_task(args.task)
    base = _decode_config(args, "confidence", {}, task)
    configs = sweep_configs(args.planners, args.block_lengths, base, args.taus, args.gammas, args.start_strides)
    records = load_records(task, args.data, args.split, args.limit, args.seed_data)
    if task.runs_code:  # no sandbox: say so before loading the model
        require_sandbox()
    rank, world, barrier, device = _distributed()
    model_path = None if args.model == "bundled" else args.model
    model = unmask.load_model(model_path, device=args.device or device, dtype=args.dtype,
                              trust_remote_code=args.trust_remote_code)
    results = run_sweep(model, task, records, configs, args.out, args.batch_size,
                        model_path or str(unmask.bundled_model_path()), args.data, args.limit, args.seed_data,
                        rank=rank, world=world, barrier=barrier)
    if rank == 0:
        print(markdown_table(results))
    return 0


def _serve(args) -> int:
    from pathlib import Path

    import uvicorn

    import unmask
    from unmask.engine import EngineLimits
    from unmask.serve import create_app

    defaults = _decode_config(args, args.planner, _options_for(args, args.planner))  # checked before the model loads
    limits = EngineLimits(max_rows=args.max_rows, max_queued=args.max_queued, timeout_s=args.timeout)
    model = unmask.load_model(args.model if args.model != "bundled" else None, device=args.device, dtype=args.dtype,
                              trust_remote_code=args.trust_remote_code)
    name = unmask.bundled_model_path().name if args.model == "bundled" else Path(args.model).resolve().name
    app = create_app(model, name, defaults, limits, max_body_bytes=args.max_body_bytes)
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level)
    return 0


def _show(args) -> int:
    from unmask.evaluate.sweep import show

    print(show(args.directory, paired=args.paired))
    return 0


def _add_model_flags(parser) -> None:
    parser.add_argument("--model", default="bundled", help="local model directory, or 'bundled'")
    parser.add_argument("--device", type=_checked("device"), help="cpu, cuda, cuda:N, mps or xpu")
    parser.add_argument("--dtype", type=_checked("dtype"), help="float32 (fp32), bfloat16 (bf16), float16 (fp16)")
    parser.add_argument("--trust-remote-code", action="store_true", help="needed for LLaDA / Dream checkpoints")


def _checked(kind: str):
    """An argparse type that parses a --device or --dtype with `unmask.devices`; its error names the choices."""
    def parse(text: str):
        from unmask.devices import parse_device, parse_dtype

        try:
            return (parse_device if kind == "device" else parse_dtype)(text)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    return parse


def _add_decode_flags(parser, gen_length_default) -> None:
    parser.add_argument("--gen-length", type=int, default=gen_length_default,
                        help="generated positions (eval/sweep default: the task's own)")
    parser.add_argument("--block-length", type=int, default=32)
    parser.add_argument("--temperature", type=float, default=0.0)
    parser.add_argument("--seed", type=int, help="sampling seed")
    parser.add_argument("--stop", action="append", default=[], help="stop string (repeatable)")
    parser.add_argument("--no-early-stop", action="store_true", help="decode every position even after EOS")
    parser.add_argument("--cache", default="none", choices=["none", "prefix", "dual"])


def _add_planner_flags(parser) -> None:
    parser.add_argument("--planner", default="dilated", help="planner name (see `unmask planners`)")
    for name, flag in _planner_flags().items():
        parser.add_argument(flag, dest=name, type=_option_value, help="planner option (see `unmask planners`)")


def _add_data_flags(parser, eval_seed: int) -> None:
    parser.add_argument("--task", required=True, help="arith, countdown, sudoku, gsm8k, math500, humaneval, mbpp")
    parser.add_argument("--data", help="local .jsonl/.json/.parquet file or directory of the task's records")
    parser.add_argument("--split", default="test")
    parser.add_argument("--limit", type=_positive,
                        help="first N records (synthetic tasks: N fresh records, default 500)")
    parser.add_argument("--seed-data", type=int, default=eval_seed, help="seed of a synthetic task's test set")
    parser.add_argument("--batch-size", type=_positive, default=16)
    parser.add_argument("--out", required=True, help="results root; each config gets its own directory inside")


def _lm_eval(arguments: list[str]) -> int:
    """lm-evaluation-harness's own command line, with `--model unmask` registered."""
    import unmask.integrations.lm_eval  # noqa: F401 (registers the model)
    from lm_eval.__main__ import cli_evaluate

    sys.argv = ["lm-eval", *arguments]
    cli_evaluate()
    return 0


def _planners(args) -> int:
    from rich.console import Console
    from rich.table import Table

    from unmask.planners import PLANNERS, Spaced

    table = Table(show_header=True, header_style="bold")
    for column in ("planner", "what it does", "options (defaults)"):
        table.add_column(column)
    for name, cls in PLANNERS.items():
        options = ", ".join(f"{k}={v}" for k, v in cls.options().items()) or "-"
        table.add_row(name, cls.summary, options)
    table.add_row("(any) start_stride=g0", Spaced.summary, "start_stride=0 (off)")
    Console().print(table)
    return 0


def _task_weights(spec: str) -> list[str] | dict[str, float]:
    """`arith,sudoku` (the default mix) or `arith:0.5,sudoku:0.2` (explicit weights)."""
    parts = [p.strip() for p in spec.split(",") if p.strip()]
    if not any(":" in p for p in parts):
        return parts
    weights = {}
    for part in parts:
        name, _, weight = part.partition(":")
        try:
            weights[name] = float(weight)
        except ValueError:
            raise SystemExit(f"--task: give every task a weight, like arith:0.5,sudoku:0.5 (got {part!r})") from None
    return weights


def _train(args) -> int:
    from dataclasses import replace

    from unmask.training.train import PRESETS, train

    cfg = PRESETS[args.config]
    if args.steps is not None:
        cfg = replace(cfg, steps=args.steps)
    if args.batch_size is not None:
        cfg = replace(cfg, batch_size=args.batch_size)
    if args.lr is not None:
        cfg = replace(cfg, lr=args.lr)
    if args.warmup is not None:
        cfg = replace(cfg, warmup=args.warmup)
    if args.fp32:
        cfg = replace(cfg, bf16=False)
    if args.seed is not None:
        cfg = replace(cfg, seed=args.seed)
    if args.loss_weighting is not None:
        cfg = replace(cfg, loss_weighting=args.loss_weighting)
    if args.block_masking is not None:
        cfg = replace(cfg, block_masking=args.block_masking)
    init_from = None
    if args.init_from is not None:
        from unmask.models import bundled_model_path

        init_from = bundled_model_path() if args.init_from == "bundled" else args.init_from
    model_dir = train(_task_weights(args.task), args.out, cfg, resume=args.resume, until=args.until,
                      init_from=init_from, device=args.device)
    print(f"exported {model_dir}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    from unmask.evaluate.harness import DEFAULT_EVAL_SEED

    parser = argparse.ArgumentParser(prog="unmask", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    gen = commands.add_parser("generate", help="decode one prompt and show the reveal order")
    gen.add_argument("prompt", help="the prompt text (use --escapes to write \\n for newlines)")
    gen.add_argument("--compare", help="a second planner to run on the same prompt")
    gen.add_argument("--escapes", action="store_true", help="interpret backslash escapes (\\n) in the prompt")
    gen.add_argument("--stream", action="store_true",
                     help="show the draft after every model call (committed text, out-of-order reveals, masks)")
    _add_model_flags(gen)
    _add_decode_flags(gen, 64)
    _add_planner_flags(gen)
    gen.set_defaults(func=_generate)

    ev = commands.add_parser("eval", help="evaluate a planner on a task (resumable, data-parallel)")
    _add_data_flags(ev, DEFAULT_EVAL_SEED)
    _add_model_flags(ev)
    _add_decode_flags(ev, None)
    _add_planner_flags(ev)
    ev.set_defaults(func=_eval, compare=None)

    sw = commands.add_parser("sweep", help="evaluate a grid of planners and block lengths; table and frontier plot")
    _add_data_flags(sw, DEFAULT_EVAL_SEED)
    _add_model_flags(sw)
    _add_decode_flags(sw, None)
    sw.add_argument("--planners", type=_csv(str), default=["dilated", "confidence", "threshold", "entropy_bound"])
    sw.add_argument("--block-lengths", type=_csv(int), default=[8, 16, 32])
    sw.add_argument("--taus", type=_csv(float), default=[0.7, 0.8, 0.9])
    sw.add_argument("--gammas", type=_csv(float), default=[0.1, 0.5, 1.0])
    sw.add_argument("--start-strides", type=_csv(float), default=[0.0],
                    help="spacing filter strides (start_stride) for every adaptive planner (0 = off), e.g. 0,2")
    sw.set_defaults(func=_sweep)

    sh = commands.add_parser("show", help="print the table of a sweep directory")
    sh.add_argument("directory")
    sh.add_argument("--paired", metavar="PLANNER",
                    help="also compare PLANNER with every other config problem by problem (exact McNemar), e.g. dilated")
    sh.set_defaults(func=_show)

    harness = commands.add_parser("lm-eval", help="run lm-evaluation-harness with --model unmask available",
                                  description="Arguments after `lm-eval` go to lm-evaluation-harness unchanged.")
    harness.add_argument("arguments", nargs="*", help="lm-evaluation-harness arguments")

    planners = commands.add_parser("planners", help="list the planners, their options and defaults")
    planners.set_defaults(func=_planners)

    serve = commands.add_parser("serve", help="an OpenAI-compatible HTTP server (continuous batching, streaming)",
                                description="Flags set the defaults; each request may override them (extra fields).")
    _add_model_flags(serve)
    _add_decode_flags(serve, 64)
    _add_planner_flags(serve)
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--max-rows", type=int, default=32, help="most requests in one model call")
    serve.add_argument("--max-queued", type=int, default=256, help="most waiting requests (more get 429)")
    serve.add_argument("--timeout", type=float, default=300.0, help="seconds before an unfinished request fails (504)")
    serve.add_argument("--max-body-bytes", type=int, default=1_000_000, help="larger request bodies get 413")
    serve.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    serve.set_defaults(func=_serve, compare=None)

    train = commands.add_parser("train", help="train a small masked diffusion LM on the synthetic tasks")
    train.add_argument("--task", default="arith,countdown,sudoku",
                       help="comma-separated task names, optionally weighted: arith:0.5,countdown:0.5")
    train.add_argument("--out", required=True, help="run directory (checkpoint and exported model)")
    train.add_argument("--config", default="small", choices=["tiny", "small"], help="model/optimiser preset")
    train.add_argument("--steps", type=int, help="total optimiser steps (overrides the preset)")
    train.add_argument("--batch-size", type=int, help="examples per step (overrides the preset)")
    train.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt")
    train.add_argument("--until", type=int, help="stop after this step (resume later with --resume)")
    train.add_argument("--init-from", help="start from this exported model's weights ('bundled' for the bundled one)")
    train.add_argument("--lr", type=float, help="peak learning rate (overrides the preset)")
    train.add_argument("--warmup", type=int, help="warm-up steps (overrides the preset)")
    train.add_argument("--seed", type=int,
                       help="seed of the data and the masking (default 0); give each continuation a new one")
    train.add_argument("--fp32", action="store_true",
                       help="no bf16 autocast: faster on CPUs without native bf16 (no avx512_bf16 / amx)")
    train.add_argument("--loss-weighting", choices=["inverse_t", "flat"],
                       help="inverse_t: LLaDA's 1/t-weighted loss (default); flat: mean cross-entropy over masked tokens")
    train.add_argument("--block-masking", type=int, metavar="B",
                       help="train half the examples in the states of block-by-block decoding with block length B "
                            "(earlier blocks shown, later ones masked); 0 = uniform masking only (default)")
    train.add_argument("--device", type=_checked("device"),
                       help="train on cpu (default), cuda or cuda:N; the data and masks are the same either way")
    train.set_defaults(func=_train)
    return parser


def _short_warnings(command: str) -> None:
    """Show unmask's own warnings (a corrupt result line) as one line naming the command, not a source excerpt."""
    import warnings

    from unmask.evaluate.records import CorruptRecordWarning

    default = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):
        if issubclass(category, CorruptRecordWarning):
            print(f"unmask {command}: warning: {message}", file=sys.stderr)
        else:
            default(message, category, filename, lineno, file, line)

    warnings.showwarning = show


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["lm-eval"]:  # everything after it belongs to lm-evaluation-harness's own parser
        return _lm_eval(argv[1:])
    args = build_parser().parse_args(argv)
    _short_warnings(args.command)
    try:
        return args.func(args)
    except (ValueError, FileNotFoundError, FileExistsError, SandboxUnavailable) as error:
        print(f"unmask {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
