"""What the page shows of a conversation's tree, read from the messages of its active path
as the gateway sends them. Pure.

Each message the gateway sends carries `parent_id` (None for a first message),
`sibling_index` (0-based, among the messages sharing its parent, oldest first),
`sibling_count` and `sibling_ids` (every sibling's id, its own included, in that order).
A field that is missing or malformed reads as "no alternatives", never as an error.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

ROOT = "root"
"""The `parent_id` that makes a new first message (an edit of the conversation's first)."""


@dataclass(frozen=True)
class Siblings:
    """Where a message stands among its alternatives: "‹ position/count ›"."""

    position: int
    """1-based."""
    count: int
    previous_id: str | None
    """The alternative before it, None for the first."""
    next_id: str | None
    """The alternative after it, None for the last."""


def siblings_of(message: Mapping[str, Any]) -> Siblings | None:
    """The message's alternatives, or None when it has none (or says nothing sound)."""
    ids = message.get("sibling_ids")
    index = message.get("sibling_index")
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        return None
    if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < len(ids):
        return None
    if len(ids) < 2 or ids[index] != message.get("id"):
        return None
    return Siblings(
        position=index + 1,
        count=len(ids),
        previous_id=ids[index - 1] if index > 0 else None,
        next_id=ids[index + 1] if index + 1 < len(ids) else None,
    )


def edit_parent(message: Mapping[str, Any]) -> str:
    """The `parent_id` that sends an edited version of `message` as its new sibling."""
    parent = message.get("parent_id")
    return parent if isinstance(parent, str) and parent else ROOT


def messages_before(
    messages: Sequence[Mapping[str, Any]], message_id: str
) -> list[Mapping[str, Any]]:
    """The messages shown above `message_id` (all of them when it is not among them)."""
    ids = [m.get("id") for m in messages]
    if message_id not in ids:
        return list(messages)
    return list(messages[: ids.index(message_id)])


def linked_session_id(value: object) -> str | None:
    """The session id a link's `?session=` names, in the gateway's spelling (lowercase,
    hyphenated); None when it is not a session id at all."""
    if not isinstance(value, str):
        return None
    try:
        return str(uuid.UUID(value.strip()))
    except ValueError:
        return None
