"""A chat turn's reply in the Responses API's words: the response object, and the events
of a streamed response. Pure: data in, JSON-ready dicts out.

A response holds one output item, the assistant's message with one `output_text` part.
A stream tells it as OpenAI does, each event numbered by `sequence_number` from 0:

    response.created, response.in_progress, response.output_item.added,
    response.content_part.added, response.output_text.delta (one per chunk of text),
    response.output_text.done, response.content_part.done, response.output_item.done,
    response.completed (response.incomplete when the reply hit max_output_tokens)

and a stream the upstream breaks after its start ends with `response.failed`, whose
response carries the `error`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from thinkingthoughts.openai_api.responses_protocol import output_message_id
from thinkingthoughts.upstream.protocol import Usage

ResponseStatus = Literal["in_progress", "completed", "incomplete", "cancelled", "failed"]
ItemStatus = Literal["in_progress", "completed", "incomplete"]
LENGTH_FINISH = "length"
"""The upstream's finish reason for a reply cut at its token ceiling."""


@dataclass(frozen=True, slots=True)
class ResponseFrame:
    """What a response says besides its output, fixed before the upstream answers."""

    response_id: str
    created_at: int
    model: str
    """The model as the client named it (`persona:<slug>` stays so)."""
    store: bool
    instructions: str | None = None
    previous_response_id: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    max_output_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    user: str | None = None


def status_for(finish_reason: str | None) -> ResponseStatus:
    """A finished reply's status: cut at the token ceiling, or whole."""
    return "incomplete" if finish_reason == LENGTH_FINISH else "completed"


def item_status(status: ResponseStatus) -> ItemStatus:
    """The output message's status: an item that will get no more text is incomplete."""
    if status == "in_progress":
        return "in_progress"
    return "completed" if status == "completed" else "incomplete"


def usage_object(usage: Usage | None) -> dict[str, Any] | None:
    if usage is None:
        return None
    return {
        "input_tokens": usage.prompt_tokens,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": usage.completion_tokens,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": usage.total_tokens,
    }


def text_part(text: str) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def output_message(
    frame: ResponseFrame, text: str | None, status: ResponseStatus
) -> dict[str, Any]:
    """The one output item; `text=None` is the message before its part is added."""
    return {
        "id": output_message_id(frame.response_id),
        "type": "message",
        "role": "assistant",
        "status": item_status(status),
        "content": [] if text is None else [text_part(text)],
    }


def response_object(
    frame: ResponseFrame,
    *,
    status: ResponseStatus,
    text: str | None = None,
    usage: Usage | None = None,
    error: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The response as `POST` and `GET /v1/responses` answer it; no output before the
    reply is known (`text=None`). A `failed` response carries its `error`."""
    output = [] if text is None else [output_message(frame, text, status)]
    return {
        "id": frame.response_id,
        "object": "response",
        "created_at": frame.created_at,
        "status": status,
        "background": False,
        "error": error,
        "incomplete_details": {"reason": "max_output_tokens"} if status == "incomplete" else None,
        "instructions": frame.instructions,
        "max_output_tokens": frame.max_output_tokens,
        "metadata": frame.metadata,
        "model": frame.model,
        "output": output,
        "parallel_tool_calls": True,
        "previous_response_id": frame.previous_response_id,
        "reasoning": {"effort": None, "summary": None},
        "store": frame.store,
        "temperature": frame.temperature,
        "text": {"format": {"type": "text"}},
        "tool_choice": "auto",
        "tools": [],
        "top_p": frame.top_p,
        "truncation": "disabled",
        "usage": usage_object(usage),
        "user": frame.user,
    }


class ResponseEvents:
    """The events of one streamed response, numbered in the order they are made."""

    def __init__(self, frame: ResponseFrame) -> None:
        self._frame = frame
        self._next_number = 0
        self._text: list[str] = []

    def opening(self) -> list[dict[str, Any]]:
        """From `response.created` to the empty text part the deltas fill."""
        item_id = output_message_id(self._frame.response_id)
        started = response_object(self._frame, status="in_progress")
        return [
            self._event("response.created", response=started),
            self._event("response.in_progress", response=started),
            self._event(
                "response.output_item.added",
                output_index=0,
                item=output_message(self._frame, None, "in_progress"),
            ),
            self._event(
                "response.content_part.added",
                item_id=item_id,
                output_index=0,
                content_index=0,
                part=text_part(""),
            ),
        ]

    def delta(self, text: str) -> dict[str, Any]:
        self._text.append(text)
        return self._event(
            "response.output_text.delta",
            item_id=output_message_id(self._frame.response_id),
            output_index=0,
            content_index=0,
            delta=text,
            logprobs=[],
        )

    def closing(self, *, usage: Usage | None, finish_reason: str | None) -> list[dict[str, Any]]:
        """From `response.output_text.done` to the final `response.completed` (or
        `response.incomplete`), each carrying the whole text."""
        text, status = "".join(self._text), status_for(finish_reason)
        item_id = output_message_id(self._frame.response_id)
        place = {"item_id": item_id, "output_index": 0, "content_index": 0}
        final = response_object(self._frame, status=status, text=text, usage=usage)
        return [
            self._event("response.output_text.done", **place, text=text, logprobs=[]),
            self._event("response.content_part.done", **place, part=text_part(text)),
            self._event(
                "response.output_item.done",
                output_index=0,
                item=output_message(self._frame, text, status),
            ),
            self._event(f"response.{status}", response=final),
        ]

    def failure(self, message: str) -> dict[str, Any]:
        """The last event of a stream the upstream broke: the response, failed."""
        error = {"code": "server_error", "message": message}
        failed = response_object(
            self._frame, status="failed", text="".join(self._text), error=error
        )
        return self._event("response.failed", response=failed)

    def _event(self, kind: str, **fields: Any) -> dict[str, Any]:
        event = {"type": kind, "sequence_number": self._next_number, **fields}
        self._next_number += 1
        return event
