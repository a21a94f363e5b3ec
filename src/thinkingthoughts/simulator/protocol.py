"""The simulator's wire format, shaped like vLLM's OpenAI-compatible server.

Pure functions: a parsed JSON body goes in, a plan or a vLLM-shaped error comes out, and
answers are encoded to bytes with orjson. Streamed chunks share one precomputed prefix
and suffix, so encoding a token costs one small `orjson.dumps` of its text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from thinkingthoughts.simulator.config import SimulatorConfig
from thinkingthoughts.simulator.replies import (
    build_reply,
    prompt_token_count,
    prompt_token_ids,
    text_token_ids,
)

DONE_FRAME = b"data: [DONE]\n\n"
_FRAME_START = b"data: "
_FRAME_END = b"\n\n"


@dataclass(frozen=True, slots=True)
class ErrorAnswer:
    """An error the way vLLM answers it: HTTP status and a flat error object."""

    status: int
    message: str
    error_type: str

    def body(self) -> bytes:
        return orjson.dumps(
            {
                "object": "error",
                "message": self.message,
                "type": self.error_type,
                "param": None,
                "code": self.status,
            }
        )


def bad_request(message: str) -> ErrorAnswer:
    return ErrorAnswer(status=400, message=message, error_type="BadRequestError")


def model_not_found(model: str) -> ErrorAnswer:
    return ErrorAnswer(
        status=404, message=f"The model `{model}` does not exist.", error_type="NotFoundError"
    )


RATE_LIMITED = ErrorAnswer(
    status=429,
    message="The server is overloaded: too many requests. Please retry later.",
    error_type="RateLimitError",
)
INTERNAL_ERROR = ErrorAnswer(
    status=500,
    message="Internal server error (injected by the simulator).",
    error_type="InternalServerError",
)


@dataclass(frozen=True, slots=True)
class CompletionPlan:
    """Everything needed to answer one valid chat request."""

    model: str
    stream: bool
    include_usage: bool
    pieces: list[str]
    finish_reason: str
    prompt_tokens: int

    @property
    def completion_tokens(self) -> int:
        return len(self.pieces)

    def usage(self) -> dict[str, int]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.prompt_tokens + self.completion_tokens,
        }


def parse_json_object(raw: bytes) -> dict[str, Any] | ErrorAnswer:
    """The request body as a JSON object, or the 400 vLLM answers for anything else."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        return bad_request(f"The request body is not valid JSON: {exc}")
    if not isinstance(body, dict):
        return bad_request("The request body must be a JSON object.")
    return body


def check_model(body: dict[str, Any], config: SimulatorConfig) -> ErrorAnswer | None:
    """None when the body names the served model (or no model, as vLLM allows)."""
    model = body.get("model")
    if model is None or model == config.model:
        return None
    if not isinstance(model, str):
        return bad_request("`model` must be a string.")
    return model_not_found(model)


def plan_chat_completion(
    body: dict[str, Any], config: SimulatorConfig
) -> CompletionPlan | ErrorAnswer:
    """Validate a chat completion request and decide the reply, or say why not."""
    model_error = check_model(body, config)
    if model_error is not None:
        return model_error
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return bad_request("`messages` must be a non-empty list of chat messages.")
    if not all(isinstance(m, dict) and isinstance(m.get("role"), str) for m in messages):
        return bad_request("Each message must be an object with a string `role`.")
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        return bad_request("`stream` must be a boolean.")
    max_tokens = _requested_max_tokens(body)
    if isinstance(max_tokens, ErrorAnswer):
        return max_tokens
    prompt_tokens = prompt_token_count(messages)
    completion_budget = config.reply_tokens if max_tokens is None else max_tokens
    if prompt_tokens + completion_budget > config.max_model_len:
        return context_overflow(config.max_model_len, prompt_tokens, completion_budget)
    reply_length = min(config.reply_tokens, completion_budget)
    return CompletionPlan(
        model=config.model,
        stream=stream,
        include_usage=_include_usage(body),
        pieces=build_reply(messages, reply_length),
        finish_reason="length" if completion_budget < config.reply_tokens else "stop",
        prompt_tokens=prompt_tokens,
    )


def context_overflow(max_model_len: int, prompt_tokens: int, completion_tokens: int) -> ErrorAnswer:
    """vLLM's 400 for a prompt plus completion longer than the model's context."""
    return bad_request(
        f"This model's maximum context length is {max_model_len} tokens. "
        f"However, you requested {prompt_tokens + completion_tokens} tokens "
        f"({prompt_tokens} in the messages, {completion_tokens} in the completion). "
        "Please reduce the length of the messages or completion."
    )


def tokenize_body(body: dict[str, Any], config: SimulatorConfig) -> bytes | ErrorAnswer:
    """vLLM's `/tokenize` answer for a `prompt` string or chat `messages`."""
    model_error = check_model(body, config)
    if model_error is not None:
        return model_error
    messages = body.get("messages")
    prompt = body.get("prompt")
    if isinstance(messages, list) and all(isinstance(m, dict) for m in messages):
        tokens = prompt_token_ids(messages)
    elif isinstance(prompt, str):
        tokens = text_token_ids(prompt)
    else:
        return bad_request("Give either `prompt` (a string) or `messages` (a list of messages).")
    return orjson.dumps(
        {"count": len(tokens), "max_model_len": config.max_model_len, "tokens": tokens}
    )


def models_body(config: SimulatorConfig, *, created: int) -> bytes:
    """The `/v1/models` list: the one served model, with its context length as vLLM does."""
    model = {
        "id": config.model,
        "object": "model",
        "created": created,
        "owned_by": "thinkingthoughts",
        "root": config.model,
        "parent": None,
        "max_model_len": config.max_model_len,
    }
    return orjson.dumps({"object": "list", "data": [model]})


def completion_body(plan: CompletionPlan, *, completion_id: str, created: int) -> bytes:
    """A whole `chat.completion` object."""
    return orjson.dumps(
        {
            "id": completion_id,
            "object": "chat.completion",
            "created": created,
            "model": plan.model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "".join(plan.pieces)},
                    "logprobs": None,
                    "finish_reason": plan.finish_reason,
                }
            ],
            "usage": plan.usage(),
        }
    )


@dataclass(frozen=True, slots=True)
class StreamFrames:
    """The bytes of one streamed answer: opening, one frame per piece, closing."""

    opening: bytes
    pieces: list[bytes]
    closing: bytes


def stream_frames(plan: CompletionPlan, *, completion_id: str, created: int) -> StreamFrames:
    """Every SSE frame of a streamed answer, encoded before the first one is sent."""
    head: dict[str, Any] = {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": plan.model,
    }
    # Split one encoded chunk around a marker to get the bytes shared by every piece.
    marker = "\x00piece\x00"
    template = _chunk({**head, "choices": [_choice({"content": marker}, None)]})
    prefix, suffix = template.split(orjson.dumps(marker))
    pieces = [prefix + orjson.dumps(piece) + suffix for piece in plan.pieces]
    opening = _chunk({**head, "choices": [_choice({"role": "assistant", "content": ""}, None)]})
    closing = _chunk({**head, "choices": [_choice({}, plan.finish_reason)]})
    if plan.include_usage:
        closing += _chunk({**head, "choices": [], "usage": plan.usage()})
    return StreamFrames(opening=opening, pieces=pieces, closing=closing + DONE_FRAME)


def _chunk(payload: dict[str, Any]) -> bytes:
    return _FRAME_START + orjson.dumps(payload) + _FRAME_END


def _choice(delta: dict[str, str], finish_reason: str | None) -> dict[str, Any]:
    return {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}


def _requested_max_tokens(body: dict[str, Any]) -> int | ErrorAnswer | None:
    for field in ("max_completion_tokens", "max_tokens"):
        value = body.get(field)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int):
            return bad_request(f"`{field}` must be an integer.")
        if value < 1:
            return bad_request(f"{field} must be at least 1, got {value}.")
        return value
    return None


def _include_usage(body: dict[str, Any]) -> bool:
    options = body.get("stream_options")
    return isinstance(options, dict) and options.get("include_usage") is True
