"""The simulator's `/v1/completions`: a plain prompt in, vLLM-shaped text completions out.

Pure functions, like `protocol` and `encoding` for chat. The reply is the chat reply to
the prompt taken as one user message, so it is deterministic and echoes what was sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from thinkingthoughts.simulator.config import SimulatorConfig
from thinkingthoughts.simulator.encoding import DONE_FRAME, StreamFrames
from thinkingthoughts.simulator.protocol import (
    ErrorAnswer,
    bad_request,
    check_model,
    context_overflow,
)
from thinkingthoughts.simulator.replies import build_reply, text_token_ids


@dataclass(frozen=True, slots=True)
class TextCompletionPlan:
    model: str
    stream: bool
    include_usage: bool
    pieces: list[str]
    finish_reason: str
    prompt_tokens: int

    def usage(self) -> dict[str, int]:
        completion = len(self.pieces)
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": completion,
            "total_tokens": self.prompt_tokens + completion,
        }


def prompt_text(prompt: object) -> str | None:
    """The prompt as text: a string, or the first of a list of strings (one choice is
    answered); token ids are read as their count of placeholder words. None: invalid."""
    if isinstance(prompt, str):
        return prompt
    if isinstance(prompt, list) and prompt:
        first = prompt[0]
        if isinstance(first, str):
            return first
        if all(isinstance(t, int) and not isinstance(t, bool) for t in prompt):
            return " ".join("token" for _ in prompt)
        if isinstance(first, list) and all(isinstance(t, int) for t in first):
            return " ".join("token" for _ in first)
    return None


def plan_text_completion(
    body: dict[str, Any], config: SimulatorConfig
) -> TextCompletionPlan | ErrorAnswer:
    """Validate a text completion request and decide the reply, or say why not."""
    model_error = check_model(body, config)
    if model_error is not None:
        return model_error
    prompt = prompt_text(body.get("prompt"))
    if prompt is None:
        return bad_request("`prompt` must be a string, a list of strings or of token ids.")
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        return bad_request("`stream` must be a boolean.")
    max_tokens = body.get("max_tokens")
    if max_tokens is not None and (
        isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1
    ):
        return bad_request("`max_tokens` must be a positive integer.")
    prompt_tokens = len(text_token_ids(prompt))
    budget = config.reply_tokens if max_tokens is None else max_tokens
    if prompt_tokens + budget > config.max_model_len:
        return context_overflow(config.max_model_len, prompt_tokens, budget)
    options = body.get("stream_options")
    return TextCompletionPlan(
        model=config.model,
        stream=stream,
        include_usage=isinstance(options, dict) and options.get("include_usage") is True,
        pieces=build_reply([{"role": "user", "content": prompt}], min(budget, config.reply_tokens)),
        finish_reason="length" if budget < config.reply_tokens else "stop",
        prompt_tokens=prompt_tokens,
    )


def text_completion_body(plan: TextCompletionPlan, *, completion_id: str, created: int) -> bytes:
    """A whole `text_completion` object."""
    choice = {
        "index": 0,
        "text": "".join(plan.pieces),
        "logprobs": None,
        "finish_reason": plan.finish_reason,
    }
    head = _head(plan, completion_id, created)
    return orjson.dumps({**head, "choices": [choice], "usage": plan.usage()})


def text_completion_frames(
    plan: TextCompletionPlan, *, completion_id: str, created: int
) -> StreamFrames:
    """Every SSE frame of a streamed text completion: one per token, as vLLM sends them."""
    head = _head(plan, completion_id, created)
    pieces = [_frame({**head, "choices": [_choice(piece, None)]}) for piece in plan.pieces]
    closing = _frame({**head, "choices": [_choice("", plan.finish_reason)]})
    if plan.include_usage:
        closing += _frame({**head, "choices": [], "usage": plan.usage()})
    return StreamFrames(opening=b"", pieces=pieces, closing=closing + DONE_FRAME)


def _head(plan: TextCompletionPlan, completion_id: str, created: int) -> dict[str, Any]:
    return {"id": completion_id, "object": "text_completion", "created": created,
            "model": plan.model}  # fmt: skip


def _choice(text: str, finish_reason: str | None) -> dict[str, Any]:
    return {"index": 0, "text": text, "logprobs": None, "finish_reason": finish_reason}


def _frame(payload: dict[str, Any]) -> bytes:
    return b"data: " + orjson.dumps(payload) + b"\n\n"
