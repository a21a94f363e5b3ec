"""The simulator's requests, read the way vLLM's OpenAI-compatible server reads them.

Pure functions: a parsed JSON body goes in, a plan or a vLLM-shaped error comes out;
`encoding` turns a plan into bytes. An answer is either text or one tool call (see
`tools`); a tool call's arguments are generated as tokens, the way text is, and count as
the completion's tokens.
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
    split_into_pieces,
    text_token_ids,
)
from thinkingthoughts.simulator.tools import (
    ToolRequestError,
    check_tool_messages,
    choose_tool,
    declared_tools,
    tool_call_arguments,
    tool_call_id,
)


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
class CalledTool:
    """The tool call an answer makes; its arguments are the plan's pieces."""

    call_id: str
    name: str


@dataclass(frozen=True, slots=True)
class CompletionPlan:
    """Everything needed to answer one valid chat request.

    `pieces` are the streamed tokens: of the text, or of the arguments of `tool_call`.
    """

    model: str
    stream: bool
    include_usage: bool
    pieces: list[str]
    finish_reason: str
    prompt_tokens: int
    tool_call: CalledTool | None = None

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
    try:
        check_tool_messages(messages)
        tools = declared_tools(body.get("tools"))
        tool = choose_tool(tools, body.get("tool_choice"), messages)
    except ToolRequestError as exc:
        return bad_request(str(exc))
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        return bad_request("`stream` must be a boolean.")
    max_tokens = _requested_max_tokens(body)
    if isinstance(max_tokens, ErrorAnswer):
        return max_tokens
    prompt_tokens = prompt_token_count(messages, tools)
    # Text runs to the configured length; a tool call to the end of its arguments.
    arguments = [] if tool is None else split_into_pieces(tool_call_arguments(messages))
    natural_length = config.reply_tokens if tool is None else len(arguments)
    completion_budget = natural_length if max_tokens is None else max_tokens
    if prompt_tokens + completion_budget > config.max_model_len:
        return context_overflow(config.max_model_len, prompt_tokens, completion_budget)
    cut_short = completion_budget < natural_length
    if tool is None:
        pieces = build_reply(messages, min(natural_length, completion_budget))
        finish_reason, tool_call = "stop", None
    else:
        pieces = arguments[:completion_budget]
        finish_reason = tool.finish_reason
        tool_call = CalledTool(call_id=tool_call_id(messages, tool.name), name=tool.name)
    return CompletionPlan(
        model=config.model,
        stream=stream,
        include_usage=_include_usage(body),
        pieces=pieces,
        finish_reason="length" if cut_short else finish_reason,
        prompt_tokens=prompt_tokens,
        tool_call=tool_call,
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
    """vLLM's `/tokenize` answer for a `prompt` string or chat `messages` (and their `tools`)."""
    model_error = check_model(body, config)
    if model_error is not None:
        return model_error
    messages = body.get("messages")
    prompt = body.get("prompt")
    if isinstance(messages, list) and all(isinstance(m, dict) for m in messages):
        try:
            tools = declared_tools(body.get("tools"))
        except ToolRequestError as exc:
            return bad_request(str(exc))
        tokens = prompt_token_ids(messages, tools)
    elif isinstance(prompt, str):
        tokens = text_token_ids(prompt)
    else:
        return bad_request("Give either `prompt` (a string) or `messages` (a list of messages).")
    return orjson.dumps(
        {"count": len(tokens), "max_model_len": config.max_model_len, "tokens": tokens}
    )


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
