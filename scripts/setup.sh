#!/usr/bin/env bash
# Set up a virtual environment in .venv with unmask and everything its tests and evaluations use.
# torch is pinned first to the CPU build (2.13.0) so that no multi-GB CUDA build is resolved.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install -q torch==2.13.0
.venv/bin/python -m pip install -q -e ".[test,eval,diffusers,serve]"
