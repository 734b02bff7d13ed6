"""The OpenAI request and response shapes, and how a request becomes a prompt and a `DecodeConfig`.

Standard fields: `model`, `prompt` (completions) or `messages` (chat), `max_tokens` (the answer's length G),
`temperature`, `top_p`, `stop`, `seed`, `stream`, `stream_options.include_usage`, `n` (1 only). Extra fields (the
openai client's `extra_body`): `planner`, `block_length`, any planner option (`tau`, `gamma`, `base`, ...), `top_k`,
`cfg_scale`, `cache`, `eos_early_stop`, and `unmask_draft` (stream the positions each model call reveals). Missing
fields take the server's defaults (its command-line flags). Anything else is a 400 that names the field.
"""

from __future__ import annotations

import dataclasses
import time
import uuid
from dataclasses import dataclass
from typing import Any

from unmask.config import DecodeConfig
from unmask.planners import PLANNERS, planner_options

STANDARD = {"model", "max_tokens", "max_completion_tokens", "temperature", "top_p", "stop", "seed", "stream",
            "stream_options", "n", "user"}
"""Standard fields read by the server (besides `prompt` / `messages`)."""
UNSUPPORTED_UNLESS_DEFAULT = {"logprobs": (False, 0), "top_logprobs": (0,), "echo": (False,), "best_of": (1,),
                              "suffix": ("",), "logit_bias": ({},), "frequency_penalty": (0,), "presence_penalty": (0,),
                              "tools": ([],), "tool_choice": ("none",), "response_format": ({"type": "text"},)}
"""Standard fields the server accepts only at their default value (or null)."""
CONFIG_EXTRAS = ("planner", "block_length", "top_k", "cfg_scale", "cache", "eos_early_stop")
"""Extra fields that set a DecodeConfig field."""

# a chat template for tokenizers that have none (the bundled model): each message's text on its own line
SIMPLE_CHAT_TEMPLATE = ("{% for message in messages %}{{ message['content'] }}\n{% if message['role'] == 'system' %}"
                        "\n{% endif %}{% endfor %}")


class ApiError(Exception):
    """A request the server refuses; rendered as an OpenAI-style error body with `status`."""

    def __init__(self, status: int, message: str, param: str | None = None, code: str | None = None,
                 kind: str = "invalid_request_error", headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.message, self.param, self.code, self.kind = status, message, param, code, kind
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.kind, "param": self.param, "code": self.code}}


@dataclass(frozen=True)
class ParsedRequest:
    """A validated request.

    Attributes:
        prompt_ids: the prompt's token ids (the chat template applied for chat requests).
        config: how to decode it.
        stream: answer with server-sent events.
        include_usage: send a last chunk with `usage` (stream_options.include_usage).
        draft: add each call's out-of-order reveals to the stream (`unmask_draft`).
    """

    prompt_ids: list[int]
    config: DecodeConfig
    stream: bool
    include_usage: bool
    draft: bool


def planner_option_names() -> set[str]:
    """Every option any planner takes (its own and the wrappers')."""
    return {option for name in PLANNERS for option in planner_options(name)}


def parse_request(body: dict[str, Any], chat: bool, defaults: DecodeConfig, tokenizer, model_name: str) -> ParsedRequest:
    """Validate an OpenAI completions (or chat) body against the server's defaults. Raises ApiError."""
    text_field = "messages" if chat else "prompt"
    known = STANDARD | set(UNSUPPORTED_UNLESS_DEFAULT) | set(CONFIG_EXTRAS) | planner_option_names() | {
        text_field, "unmask_draft"}
    unknown = sorted(set(body) - known)
    if unknown:
        raise ApiError(400, f"unknown field {unknown[0]!r}: the extra fields are {', '.join(CONFIG_EXTRAS)}, "
                            f"unmask_draft and the planner options ({', '.join(sorted(planner_option_names()))})",
                       param=unknown[0])
    for name, allowed in UNSUPPORTED_UNLESS_DEFAULT.items():
        if body.get(name) is not None and body[name] not in allowed:
            raise ApiError(400, f"{name}={body[name]!r} is not supported by this server: leave {name} out", param=name)
    model = body.get("model")
    if model != model_name:
        raise ApiError(404, f"the model {model!r} does not exist: this server serves {model_name!r} (see /v1/models)",
                       param="model", code="model_not_found")
    if body.get("n", 1) != 1:
        raise ApiError(400, f"n={body['n']!r}: this server returns one choice per request; send n=1 and more requests",
                       param="n")
    if text_field not in body:
        raise ApiError(400, f"missing field {text_field!r}", param=text_field)
    prompt_ids = _chat_prompt(body["messages"], tokenizer) if chat else _prompt(body["prompt"], tokenizer)
    config = _config(body, defaults)
    stream = _flag(body, "stream", False)
    options = body.get("stream_options") or {}
    if not isinstance(options, dict) or set(options) - {"include_usage"}:
        raise ApiError(400, "stream_options takes only include_usage (true or false)", param="stream_options")
    return ParsedRequest(prompt_ids, config, stream, bool(options.get("include_usage", False)),
                         _flag(body, "unmask_draft", False))


def _flag(body: dict, name: str, default: bool) -> bool:
    value = body.get(name, default)
    if not isinstance(value, bool):
        raise ApiError(400, f"{name} must be true or false, got {value!r}", param=name)
    return value


def _prompt(prompt, tokenizer) -> list[int]:
    """A completions prompt: a string, a list of token ids, or a list holding one of those."""
    if isinstance(prompt, list) and len(prompt) == 1 and isinstance(prompt[0], (str, list)):
        prompt = prompt[0]
    if isinstance(prompt, str):
        return tokenizer(prompt, add_special_tokens=False)["input_ids"]
    if isinstance(prompt, list) and all(isinstance(t, int) and not isinstance(t, bool) for t in prompt):
        vocab = len(tokenizer)
        bad = [t for t in prompt if not 0 <= t < vocab]
        if bad:
            raise ApiError(400, f"prompt token id {bad[0]} is outside the vocabulary [0, {vocab})", param="prompt")
        return list(prompt)
    raise ApiError(400, "prompt must be a string or a list of token ids (one prompt per request; the server batches "
                        "requests itself)", param="prompt")


def _chat_prompt(messages, tokenizer) -> list[int]:
    """Chat messages through the tokenizer's chat template (a one-line-per-message template when it has none)."""
    if not isinstance(messages, list) or not messages:
        raise ApiError(400, "messages must be a non-empty list of {role, content} objects", param="messages")
    plain = []
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            raise ApiError(400, f"messages[{i}] must be an object with a string role", param="messages")
        content = message.get("content")
        if isinstance(content, list):  # content parts: only text
            if not all(isinstance(p, dict) and p.get("type") == "text" and isinstance(p.get("text"), str)
                       for p in content):
                raise ApiError(400, f"messages[{i}].content: only text parts are supported", param="messages")
            content = "".join(p["text"] for p in content)
        if not isinstance(content, str):
            raise ApiError(400, f"messages[{i}].content must be a string or a list of text parts", param="messages")
        plain.append({"role": message["role"], "content": content})
    template = getattr(tokenizer, "chat_template", None) or SIMPLE_CHAT_TEMPLATE
    text = tokenizer.apply_chat_template(plain, chat_template=template, tokenize=False, add_generation_prompt=True)
    return tokenizer(text, add_special_tokens=False)["input_ids"]


def _config(body: dict, defaults: DecodeConfig) -> DecodeConfig:
    """The request's DecodeConfig: the server's defaults, overridden by the request's fields."""
    fields: dict[str, Any] = {name: body[name] for name in CONFIG_EXTRAS if name in body}
    for standard, field in (("max_tokens", "gen_length"), ("max_completion_tokens", "gen_length"),
                            ("temperature", "temperature"), ("top_p", "top_p"), ("seed", "seed"), ("stop", "stop")):
        if body.get(standard) is not None:
            fields[field] = body[standard]
    if isinstance(fields.get("stop"), str):
        fields["stop"] = (fields["stop"],)
    if isinstance(fields.get("stop"), list):
        fields["stop"] = tuple(fields["stop"])
    planner = fields.get("planner", defaults.planner)
    if planner not in PLANNERS:
        raise ApiError(400, f"unknown planner {planner!r}: choose one of {', '.join(PLANNERS)}", param="planner")
    accepted = planner_options(planner)
    options = {k: v for k, v in defaults.planner_options.items() if k in accepted}  # the server's, where they apply
    for name in planner_option_names():
        if name in body:
            if name not in accepted:
                listing = ", ".join(accepted) or "none"
                raise ApiError(400, f"planner {planner!r} has no option {name!r}: its options are {listing}",
                               param=name)
            options[name] = body[name]
    try:
        return dataclasses.replace(defaults, planner_options=options, **fields)
    except (ValueError, TypeError) as error:
        raise ApiError(400, str(error)) from None


def completion_id(chat: bool) -> str:
    return ("chatcmpl-" if chat else "cmpl-") + uuid.uuid4().hex


def response_body(request_id: str, chat: bool, model_name: str, text: str, finish_reason: str,
                  usage: dict[str, int]) -> dict[str, Any]:
    """A non-streaming completions / chat.completion body."""
    choice = {"index": 0, "finish_reason": finish_reason, "logprobs": None}
    choice.update({"message": {"role": "assistant", "content": text}} if chat else {"text": text})
    return {"id": request_id, "object": "chat.completion" if chat else "text_completion", "created": int(time.time()),
            "model": model_name, "choices": [choice], "usage": usage}


def chunk_body(request_id: str, chat: bool, model_name: str, text: str | None, finish_reason: str | None = None,
               first: bool = False, draft: dict | None = None, usage: dict | None = None) -> dict[str, Any]:
    """One streamed chunk; `text` None with `usage` gives the usage-only chunk (no choices)."""
    body: dict[str, Any] = {"id": request_id, "object": "chat.completion.chunk" if chat else "text_completion",
                            "created": int(time.time()), "model": model_name}
    if text is None:
        body["choices"] = []
    elif chat:
        delta = {"role": "assistant", "content": text} if first else {"content": text}
        body["choices"] = [{"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}]
    else:
        body["choices"] = [{"index": 0, "text": text, "finish_reason": finish_reason, "logprobs": None}]
    if usage is not None:
        body["usage"] = usage
    if draft is not None:
        body["unmask"] = draft
    return body


def usage_body(prompt_tokens: int, completion_tokens: int, nfe: int) -> dict[str, int]:
    """OpenAI usage plus `nfe`, the model calls spent on the request."""
    return {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens, "nfe": nfe}
