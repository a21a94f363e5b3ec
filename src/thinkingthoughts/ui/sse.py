"""Server-Sent Events, parsed from text lines into (event, data) items.

Pure: it takes lines (without their line endings, as `httpx.Response.iter_lines` gives
them) and yields one `SseEvent` per dispatched event, its data decoded as JSON. Comment
lines are ignored, several `data:` lines of one event are joined with newlines, and an
event left unfinished when the lines end is dropped, as the SSE standard says.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

DEFAULT_EVENT = "message"


class SseDecodeError(ValueError):
    """An event whose data is not JSON."""


@dataclass(frozen=True)
class SseEvent:
    event: str
    data: Any


def parse_sse(lines: Iterable[str]) -> Iterator[SseEvent]:
    """The events of a stream, in order, each with its JSON data decoded."""
    event = ""
    data: list[str] = []
    for raw in lines:
        line = raw.rstrip("\r\n")
        if not line:
            if data:
                yield _dispatch(event or DEFAULT_EVENT, data)
            event, data = "", []
            continue
        if line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if field == "event":
            event = value
        elif field == "data":
            data.append(value)
        # "id", "retry" and unknown fields are not used by the gateway's streams.


def _dispatch(event: str, data: list[str]) -> SseEvent:
    text = "\n".join(data)
    try:
        return SseEvent(event=event, data=json.loads(text))
    except json.JSONDecodeError as exc:
        raise SseDecodeError(f"the data of a {event!r} event is not JSON: {text[:200]!r}") from exc
