"""Integrations with the tools people already use. Import a module to use it (e.g. `unmask.integrations.lm_eval`
registers `--model unmask` with lm-evaluation-harness)."""
