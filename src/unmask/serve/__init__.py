"""`unmask serve`: an OpenAI-compatible HTTP server with continuous batching and streaming of the diffusion.

    unmask serve --model bundled --planner dilated --block-length 32 --port 8000

Needs the `serve` extra (`pip install 'unmask[serve]'`): FastAPI, uvicorn, prometheus-client.
"""

from __future__ import annotations

from unmask.serve.app import create_app

__all__ = ["create_app"]
