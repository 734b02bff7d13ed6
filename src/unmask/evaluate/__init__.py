"""Evaluation: resumable per-sample runs, summaries with confidence intervals, sweeps and frontier plots."""

from unmask.evaluate.harness import EvalRun, evaluate, load_records, run_directory
from unmask.evaluate.stats import wilson_interval

__all__ = ["EvalRun", "evaluate", "load_records", "run_directory", "wilson_interval"]
