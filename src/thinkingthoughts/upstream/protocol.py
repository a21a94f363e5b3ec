"""What the upstream client hands back: plain data, independent of the HTTP library."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def as_dict(self) -> dict[str, int]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.total_tokens,
        }


@dataclass(frozen=True, slots=True)
class Completion:
    """A whole (non-streamed) chat completion."""

    content: str
    finish_reason: str | None
    model: str
    usage: Usage | None
    raw: dict[str, Any] = field(repr=False, default_factory=dict)


@dataclass(frozen=True, slots=True)
class StreamChunk:
    """One decoded `chat.completion.chunk`: text delta, finish reason and/or usage."""

    content: str
    finish_reason: str | None
    usage: Usage | None
    raw: dict[str, Any] = field(repr=False, default_factory=dict)
    tool_call_deltas: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True, slots=True)
class ModelInfo:
    id: str
    max_model_len: int | None
    entry: dict[str, Any] = field(repr=False, default_factory=dict)
    """The upstream's own listing entry, every field as it sent it (for relaying)."""


def usage_from(payload: Any) -> Usage | None:
    if not isinstance(payload, dict):
        return None
    prompt = payload.get("prompt_tokens")
    completion = payload.get("completion_tokens")
    if not isinstance(prompt, int) or not isinstance(completion, int):
        return None
    return Usage(prompt_tokens=prompt, completion_tokens=completion)


def embedding_usage_from(payload: Any) -> Usage | None:
    """An embeddings answer's usage: prompt tokens only (OpenAI and vLLM send no
    `completion_tokens` there)."""
    if not isinstance(payload, dict):
        return None
    prompt = payload.get("prompt_tokens")
    if not isinstance(prompt, int) or isinstance(prompt, bool):
        return None
    return Usage(prompt_tokens=prompt, completion_tokens=0)


def completion_from(payload: dict[str, Any], *, fallback_model: str) -> Completion:
    """A chat completion's first message, or a text completion's first `text`."""
    choice = _first_choice(payload)
    message = choice.get("message")
    content = message.get("content") if isinstance(message, dict) else choice.get("text")
    return Completion(
        content=content if isinstance(content, str) else "",
        finish_reason=choice.get("finish_reason"),
        model=str(payload.get("model") or fallback_model),
        usage=usage_from(payload.get("usage")),
        raw=payload,
    )


def chunk_from(payload: dict[str, Any]) -> StreamChunk:
    """A chat chunk's `delta`, or a text completion chunk's `text`."""
    choice = _first_choice(payload)
    delta = choice.get("delta") or {}
    content = delta.get("content") if isinstance(delta, dict) else None
    if "delta" not in choice:
        content = choice.get("text")
    deltas = delta.get("tool_calls") if isinstance(delta, dict) else None
    return StreamChunk(
        content=content if isinstance(content, str) else "",
        finish_reason=choice.get("finish_reason"),
        usage=usage_from(payload.get("usage")),
        raw=payload,
        tool_call_deltas=tuple(d for d in deltas or () if isinstance(d, dict)),
    )


def merge_tool_call_deltas(
    calls: list[dict[str, Any]], deltas: tuple[dict[str, Any], ...]
) -> list[dict[str, Any]]:
    """Fold streamed tool-call fragments into whole calls, as OpenAI clients do: by
    `index`, the first fragment bringing id, type and name, later ones more arguments."""
    merged = [dict(call, function=dict(call.get("function") or {})) for call in calls]
    for delta in deltas:
        index = delta.get("index", len(merged))
        if not isinstance(index, int) or index < 0:
            continue
        while len(merged) <= index:
            merged.append({"function": {"name": "", "arguments": ""}})
        call = merged[index]
        for key in ("id", "type"):
            if isinstance(delta.get(key), str):
                call[key] = delta[key]
        function = delta.get("function")
        if isinstance(function, dict):
            if isinstance(function.get("name"), str):
                call["function"]["name"] = function["name"]
            if isinstance(function.get("arguments"), str):
                earlier = call["function"].get("arguments") or ""
                call["function"]["arguments"] = earlier + function["arguments"]
    return merged


def completion_tool_calls(payload: dict[str, Any]) -> list[dict[str, Any]]:
    message = _first_choice(payload).get("message")
    calls = message.get("tool_calls") if isinstance(message, dict) else None
    return [call for call in calls or () if isinstance(call, dict)]


def models_from(payload: Any) -> list[ModelInfo]:
    data = payload.get("data") if isinstance(payload, dict) else None
    if not isinstance(data, list):
        return []
    models = []
    for entry in data:
        if isinstance(entry, dict) and isinstance(entry.get("id"), str):
            max_len = entry.get("max_model_len")
            models.append(
                ModelInfo(
                    id=entry["id"],
                    max_model_len=max_len if isinstance(max_len, int) else None,
                    entry=entry,
                )
            )
    return models


def _first_choice(payload: dict[str, Any]) -> dict[str, Any]:
    choices = payload.get("choices")
    if isinstance(choices, list) and choices and isinstance(choices[0], dict):
        return choices[0]
    return {}
