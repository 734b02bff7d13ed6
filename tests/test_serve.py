"""`unmask serve` through the official openai client, against a server started on 127.0.0.1 in the test: answers
equal `unmask.decode` on each request alone (streamed or not, concurrent or not), extra fields, disconnects, bad
requests, model faults."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from types import SimpleNamespace

import pytest

httpx = pytest.importorskip("httpx")  # the `serve` extra
openai = pytest.importorskip("openai")
uvicorn = pytest.importorskip("uvicorn")

import unmask  # noqa: E402
from unmask.config import DecodeConfig  # noqa: E402
from unmask.engine import EngineLimits  # noqa: E402
from unmask.serve import create_app  # noqa: E402

NAME = "mdlm-5m"
DEFAULTS = DecodeConfig(planner="dilated", gen_length=32, block_length=16)
COUNTDOWN = "Use 15,44,79 to make 50.\nEquations:\n"
SUDOKU = "Solve the sudoku:\n1030\n0200\n3010\n0003\nSolution:\n"
ARITH = "Question: Tom has 9 apples. Tom buys 3 more. How many apples does Tom have now?\nAnswer:\n"


def start_server(model, limits: EngineLimits, max_body_bytes: int = 20_000):
    app = create_app(model, NAME, DEFAULTS, limits, max_body_bytes=max_body_bytes)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    return SimpleNamespace(url=url, app=app, server=server, thread=thread, engine=app.state.engine,
                           client=openai.OpenAI(base_url=url + "/v1", api_key="unused", max_retries=0))


def stop_server(handle) -> None:
    handle.server.should_exit = True
    handle.thread.join(30)


@pytest.fixture(scope="module")
def model():
    return unmask.load_model()


@pytest.fixture(scope="module")
def server(model):
    handle = start_server(model, EngineLimits(max_rows=8, max_queued=64, timeout_s=60))
    yield handle
    stop_server(handle)


def alone(model, prompt: str, **fields):
    """What `unmask.decode` gives for this request alone (the server's defaults under the request's fields)."""
    options = {k: fields.pop(k) for k in list(fields) if k in ("tau", "gamma", "base", "steps")}
    config = DecodeConfig(**{**DEFAULTS.to_dict(), "planner_options": options, **fields})
    result = unmask.decode(model, prompt, config)
    return result.texts[0], int(result.nfe[0])


def test_models_and_health(server):
    assert [m.id for m in server.client.models.list().data] == [NAME]
    assert httpx.get(server.url + "/health").json()["status"] == "ok"


def test_completion_equals_generate_with_extra_fields(server, model):
    response = server.client.completions.create(
        model=NAME, prompt=COUNTDOWN, max_tokens=24, extra_body={"planner": "threshold", "tau": 0.8,
                                                                 "block_length": 8})
    text, nfe = alone(model, COUNTDOWN, planner="threshold", tau=0.8, block_length=8, gen_length=24)
    assert response.choices[0].text == text
    assert response.usage.model_extra["nfe"] == nfe
    assert response.usage.prompt_tokens == len(model.tokenizer(COUNTDOWN, add_special_tokens=False)["input_ids"])
    assert response.choices[0].finish_reason in ("stop", "length")


def test_streamed_completion_concatenates_to_the_answer(server, model):
    stream = server.client.completions.create(model=NAME, prompt=ARITH, max_tokens=32, stream=True,
                                              stream_options={"include_usage": True}, temperature=0.9, seed=4)
    chunks = list(stream)
    text, nfe = alone(model, ARITH, temperature=0.9, seed=4)
    assert "".join(c.choices[0].text for c in chunks if c.choices) == text
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] in ("stop", "length")
    assert chunks[-1].usage.model_extra["nfe"] == nfe


def test_revising_planner_serves_whole_answers_and_refuses_streams(server, model):
    response = server.client.completions.create(model=NAME, prompt=SUDOKU, max_tokens=32,
                                                extra_body={"planner": "wino", "block_length": 16})
    result = unmask.decode(model, SUDOKU, DecodeConfig(**{**DEFAULTS.to_dict(), "planner": "wino", "gen_length": 32,
                                                          "block_length": 16}))
    assert response.choices[0].text == result.texts[0]
    assert response.usage.model_extra["nfe"] == int(result.nfe[0])
    with pytest.raises(openai.BadRequestError, match="stream=false"):
        list(server.client.completions.create(model=NAME, prompt=SUDOKU, max_tokens=32, stream=True,
                                              extra_body={"planner": "wino"}))


def test_chat_uses_the_simple_template(server, model):
    messages = [{"role": "user", "content": COUNTDOWN.rstrip("\n")}]
    response = server.client.chat.completions.create(model=NAME, messages=messages, max_tokens=32)
    text, _ = alone(model, COUNTDOWN)  # the bundled model's template: each message on its own line
    assert response.choices[0].message.content == text
    assert response.choices[0].message.role == "assistant"
    stream = server.client.chat.completions.create(model=NAME, messages=messages, max_tokens=32, stream=True,
                                                   extra_body={"planner": "entropy_bound", "gamma": 1.0})
    chunks = [c for c in stream if c.choices]
    assert chunks[0].choices[0].delta.role == "assistant"
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == alone(model, COUNTDOWN,
                                                                              planner="entropy_bound", gamma=1.0)[0]


def test_draft_stream_shows_each_calls_reveals(server, model):
    body = {"model": NAME, "prompt": COUNTDOWN, "max_tokens": 16, "stream": True, "unmask_draft": True,
            "block_length": 16, "eos_early_stop": False}
    with httpx.stream("POST", server.url + "/v1/completions", json=body, timeout=60) as response:
        events = [json.loads(line[6:]) for line in response.iter_lines() if line.startswith("data: {")]
    drafts = [e["unmask"] for e in events if "unmask" in e]
    result = unmask.decode(model, COUNTDOWN, DecodeConfig(**{**DEFAULTS.to_dict(), "gen_length": 16,
                                                             "eos_early_stop": False}))
    assert [d["nfe"] for d in drafts] == list(range(1, int(result.nfe[0]) + 1))
    revealed = {p: token for d in drafts for p, token, _ in d["revealed"]}
    assert sorted(revealed) == list(range(16))
    assert [revealed[p] for p in range(16)] == result.tokens[0].tolist()
    assert [d["committed_tokens"] for d in drafts] == sorted(d["committed_tokens"] for d in drafts)


def test_concurrent_clients_each_equal_generate_alone(server, model):
    requests = [
        dict(prompt=COUNTDOWN, max_tokens=32, extra_body={}),
        dict(prompt=ARITH, max_tokens=24, extra_body={"planner": "threshold", "tau": 0.7, "block_length": 8}),
        dict(prompt=COUNTDOWN, max_tokens=20, temperature=0.8, seed=11, extra_body={"planner": "confidence"}),
        dict(prompt=ARITH, max_tokens=16, extra_body={"planner": "entropy_bound", "gamma": 0.5, "block_length": 4}),
        dict(prompt="1+2=", max_tokens=8, extra_body={"planner": "left_to_right", "block_length": 8}),
        dict(prompt=COUNTDOWN, max_tokens=32, extra_body={"planner": "dilated", "base": 3, "cache": "prefix"}),
        dict(prompt=ARITH, max_tokens=16, top_p=0.9, temperature=0.5, seed=2, extra_body={"planner": "random"}),
        dict(prompt=COUNTDOWN, max_tokens=24, stop=["-"], extra_body={"block_length": 12}),
    ]
    client = openai.AsyncOpenAI(base_url=server.url + "/v1", api_key="unused", max_retries=0)

    async def one(request, stream):
        args = {k: v for k, v in request.items() if k != "extra_body"}
        if not stream:
            response = await client.completions.create(model=NAME, extra_body=request["extra_body"], **args)
            return response.choices[0].text, response.usage.model_extra["nfe"]
        chunks = [c async for c in await client.completions.create(
            model=NAME, extra_body=request["extra_body"], stream=True, stream_options={"include_usage": True},
            **args)]
        return "".join(c.choices[0].text for c in chunks if c.choices), chunks[-1].usage.model_extra["nfe"]

    async def everyone():
        return await asyncio.gather(*(one(r, stream=i % 2 == 1) for i, r in enumerate(requests)))

    before = _metric(server.url, "unmask_rows_per_call_bucket", 'le="1.0"'), _metric(server.url, "unmask_rows_per_call_count")
    answers = asyncio.run(everyone())
    for request, answer in zip(requests, answers):
        fields = {k: v for k, v in request["extra_body"].items()}
        for standard, field in (("max_tokens", "gen_length"), ("temperature", "temperature"), ("seed", "seed"),
                                ("top_p", "top_p"), ("stop", "stop")):
            if standard in request:
                fields[field] = request[standard]
        assert answer == alone(model, request["prompt"], **fields), request
    single, calls = (_metric(server.url, "unmask_rows_per_call_bucket", 'le="1.0"') - before[0],
                     _metric(server.url, "unmask_rows_per_call_count") - before[1])
    assert single < calls, "no model call batched more than one request"


def _metric(url: str, name: str, label: str = "") -> float:
    for line in httpx.get(url + "/metrics").text.splitlines():
        if line.startswith(name) and label in line:
            return float(line.rsplit(" ", 1)[1])
    return 0.0


LONG = {"model": NAME, "prompt": COUNTDOWN, "max_tokens": 1024, "block_length": 1024, "planner": "left_to_right",
        "eos_early_stop": False}


def _wait_idle(server, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.engine.running == 0 and server.engine.queued == 0:
            return True
        time.sleep(0.02)
    return False


def test_disconnect_frees_the_row(server):
    cancelled = _metric(server.url, "unmask_requests_total", 'status="499"')
    with httpx.stream("POST", server.url + "/v1/completions", json={**LONG, "stream": True, "unmask_draft": True},
                      timeout=60) as response:
        for line in response.iter_lines():
            if line.startswith("data: {"):
                break  # one call seen, then the client goes away
    calls = server.engine.calls
    assert _wait_idle(server, 5), "a disconnected stream kept its row"
    assert server.engine.calls - calls < 1000, "the row ran to the end"
    with pytest.raises(httpx.ReadTimeout):  # a non-streaming client that gives up
        httpx.post(server.url + "/v1/completions", json=LONG, timeout=0.5)
    assert _wait_idle(server, 5), "a disconnected request kept its row"
    assert _metric(server.url, "unmask_requests_total", 'status="499"') == cancelled + 2


@pytest.mark.parametrize("body,status,param", [
    ({"prompt": "x", "planner": "dilatd"}, 400, "planner"),
    ({"prompt": "x", "tau": 0.5}, 400, "tau"),
    ({"prompt": "x", "planner": "threshold", "tau": 2}, 400, None),
    ({"prompt": "x", "temperature": -1}, 400, None),
    ({"prompt": "x", "block_length": "big"}, 400, None),
    ({"prompt": "x", "max_tokens": 4000}, 400, None),
    ({"prompt": "x", "max_tokens": 0}, 400, None),
    ({"prompt": "x", "tua": 0.5}, 400, "tua"),
    ({"prompt": "x", "n": 2}, 400, "n"),
    ({"prompt": "x", "logprobs": 3}, 400, "logprobs"),
    ({"prompt": [1, 2, 99999]}, 400, "prompt"),
    ({"prompt": {"text": "x"}}, 400, "prompt"),
    ({"prompt": "x", "stream": "yes"}, 400, "stream"),
    ({}, 400, "prompt"),
    ({"prompt": "x", "model": "gpt-4"}, 404, "model"),
])
def test_bad_requests_get_openai_errors(server, body, status, param):
    response = httpx.post(server.url + "/v1/completions", json={"model": NAME, **body}, timeout=30)
    assert response.status_code == status
    error = response.json()["error"]
    assert error["message"] and error["type"] and error["param"] == param


def test_malformed_and_oversized_bodies(server):
    for content, status in ((b'{"model": "mdlm-5m", "prompt": ', 400), (b"[1, 2]", 400), (b"\xff\xfe", 400),
                            (json.dumps({"model": NAME, "prompt": "x" * 30_000}).encode(), 413)):
        response = httpx.post(server.url + "/v1/completions", content=content,
                              headers={"Content-Type": "application/json"}, timeout=30)
        assert response.status_code == status
        assert response.json()["error"]["message"]
    with pytest.raises(openai.BadRequestError, match="unknown planner"):
        server.client.chat.completions.create(model=NAME, messages=[{"role": "user", "content": "x"}],
                                              extra_body={"planner": "nope"})
    assert server.client.completions.create(model=NAME, prompt="1+2=", max_tokens=8).choices  # still serving


def test_full_queue_gets_429_with_retry_after(model):
    small = start_server(model, EngineLimits(max_rows=1, max_queued=1, timeout_s=60))
    try:
        async def burst():
            async with httpx.AsyncClient(timeout=60) as client:
                return await asyncio.gather(*(client.post(small.url + "/v1/completions",
                                                          json={**LONG, "max_tokens": 48, "block_length": 48})
                                              for _ in range(4)))

        responses = asyncio.run(burst())
        busy = [r for r in responses if r.status_code == 429]
        assert busy and all(int(r.headers["retry-after"]) >= 1 for r in busy)
        assert busy[0].json()["error"]["type"] == "rate_limit_error"
        assert any(r.status_code == 200 for r in responses)
    finally:
        stop_server(small)


def test_model_error_fails_its_call_and_the_server_goes_on(server, model):
    original = model.block_logits

    def out_of_memory(*args, **kwargs):
        raise RuntimeError("CUDA out of memory (simulated)")

    model.block_logits = out_of_memory
    try:
        with pytest.raises(openai.InternalServerError, match="out of memory"):
            server.client.completions.create(model=NAME, prompt="1+2=", max_tokens=8)
        stream = server.client.completions.create(model=NAME, prompt="1+2=", max_tokens=8, stream=True)
        with pytest.raises(openai.APIError, match="out of memory"):
            list(stream)
    finally:
        del model.block_logits
    assert model.block_logits == original
    text, _ = alone(model, "1+2=", gen_length=8)
    assert server.client.completions.create(model=NAME, prompt="1+2=", max_tokens=8).choices[0].text == text
