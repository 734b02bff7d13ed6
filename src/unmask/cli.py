"""The `unmask` command line: generate, planners, train."""

from __future__ import annotations

import argparse
import sys


def _train(args) -> int:
    from dataclasses import replace

    from unmask.training.train import PRESETS, train

    cfg = PRESETS[args.config]
    if args.steps is not None:
        cfg = replace(cfg, steps=args.steps)
    if args.batch_size is not None:
        cfg = replace(cfg, batch_size=args.batch_size)
    model_dir = train(args.task.split(","), args.out, cfg, resume=args.resume)
    print(f"exported {model_dir}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="unmask", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser("train", help="train a small masked diffusion LM on the synthetic tasks")
    train.add_argument("--task", default="arith,countdown,sudoku", help="comma-separated task names")
    train.add_argument("--out", required=True, help="run directory (checkpoint and exported model)")
    train.add_argument("--config", default="small", choices=["tiny", "small"], help="model/optimiser preset")
    train.add_argument("--steps", type=int, help="total optimiser steps (overrides the preset)")
    train.add_argument("--batch-size", type=int, help="examples per step (overrides the preset)")
    train.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt")
    train.set_defaults(func=_train)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
