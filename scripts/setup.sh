#!/usr/bin/env bash
# Set up a virtual environment in .venv with unmask and everything its tests and evaluations use.
# torch is pinned first to the CPU build (2.13.0) so that no multi-GB CUDA build is resolved.
set -euo pipefail
cd "$(dirname "$0")/.."
# bubblewrap: the sandbox that generated code (HumanEval, MBPP) runs in. Installed when we can (root with apt);
# otherwise say so and go on (code evaluation then refuses to run unless UNMASK_ALLOW_UNSANDBOXED_CODE=1).
if ! command -v bwrap > /dev/null; then
    if [ "$(id -u)" -eq 0 ] && command -v apt-get > /dev/null; then
        (apt-get update -qq && apt-get install -y -qq bubblewrap > /dev/null) \
            || echo "setup: could not install bubblewrap; code evaluation will refuse to run without it" >&2
    else
        echo "setup: bubblewrap (bwrap) is not installed: install it (apt-get install bubblewrap) to evaluate code" >&2
    fi
fi
python3 -m venv .venv
.venv/bin/python -m pip install -q torch==2.13.0
.venv/bin/python -m pip install -q -e ".[test,eval,diffusers,serve]"
