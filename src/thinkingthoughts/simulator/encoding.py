"""The simulator's answers as bytes, shaped like vLLM's OpenAI-compatible server.

Pure functions encoding with orjson. Streamed chunks share one precomputed prefix and
suffix, so encoding a token costs one small `orjson.dumps` of its text. A tool call
streams like OpenAI's: its id and name first, then its arguments token by token.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from thinkingthoughts.simulator.config import SimulatorConfig
from thinkingthoughts.simulator.protocol import CalledTool, CompletionPlan

DONE_FRAME = b"data: [DONE]\n\n"
_FRAME_START = b"data: "
_FRAME_END = b"\n\n"
# Stands for a piece in the one chunk encoded as a template; cannot occur in a head field.
_PIECE_MARKER = "\x00piece\x00"


def models_body(config: SimulatorConfig, *, created: int) -> bytes:
    """The `/v1/models` list: the one served model, every field as vLLM lists it."""
    permission = {
        "id": f"modelperm-{created}",
        "object": "model_permission",
        "created": created,
        "allow_create_engine": False,
        "allow_sampling": True,
        "allow_logprobs": True,
        "allow_search_indices": False,
        "allow_view": True,
        "allow_fine_tuning": False,
        "organization": "*",
        "group": None,
        "is_blocking": False,
    }
    model = {
        "id": config.model,
        "object": "model",
        "created": created,
        "owned_by": "vllm",
        "root": config.model,
        "parent": None,
        "max_model_len": config.max_model_len,
        "permission": [permission],
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
                    "message": _whole_message(plan),
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
    if plan.tool_call is None:
        opening_delta: dict[str, Any] = {"role": "assistant", "content": ""}
        piece_delta: dict[str, Any] = {"content": _PIECE_MARKER}
    else:
        opening_delta = {"role": "assistant", "tool_calls": [_opening_call(plan.tool_call)]}
        piece_delta = {"tool_calls": [{"index": 0, "function": {"arguments": _PIECE_MARKER}}]}
    # Split one encoded chunk around the marker to get the bytes shared by every piece.
    template = _chunk({**head, "choices": [_choice(piece_delta, None)]})
    prefix, suffix = template.split(orjson.dumps(_PIECE_MARKER))
    pieces = [prefix + orjson.dumps(piece) + suffix for piece in plan.pieces]
    opening = _chunk({**head, "choices": [_choice(opening_delta, None)]})
    closing = _chunk({**head, "choices": [_choice({}, plan.finish_reason)]})
    if plan.include_usage:
        closing += _chunk({**head, "choices": [], "usage": plan.usage()})
    return StreamFrames(opening=opening, pieces=pieces, closing=closing + DONE_FRAME)


def _whole_message(plan: CompletionPlan) -> dict[str, Any]:
    text = "".join(plan.pieces)
    if plan.tool_call is None:
        return {"role": "assistant", "content": text}
    call = {
        "id": plan.tool_call.call_id,
        "type": "function",
        "function": {"name": plan.tool_call.name, "arguments": text},
    }
    return {"role": "assistant", "content": None, "tool_calls": [call]}


def _opening_call(call: CalledTool) -> dict[str, Any]:
    return {
        "index": 0,
        "id": call.call_id,
        "type": "function",
        "function": {"name": call.name, "arguments": ""},
    }


def _chunk(payload: dict[str, Any]) -> bytes:
    return _FRAME_START + orjson.dumps(payload) + _FRAME_END


def _choice(delta: dict[str, Any], finish_reason: str | None) -> dict[str, Any]:
    return {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
