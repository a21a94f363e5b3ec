"""How sessions and their messages are listed on the page. Pure."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

SESSIONS_PER_PAGE = 10


def session_title(session: Mapping[str, Any], untitled: str) -> str:
    title = session.get("title")
    return title.strip() if isinstance(title, str) and title.strip() else untitled


def when(timestamp: object) -> str:
    """An ISO timestamp as "YYYY-MM-DD HH:MM" (the gateway's times are UTC)."""
    if not isinstance(timestamp, str):
        return ""
    try:
        moment = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    except ValueError:
        return timestamp
    return moment.strftime("%Y-%m-%d %H:%M")


def page_count(total: int, size: int = SESSIONS_PER_PAGE) -> int:
    return max(1, math.ceil(max(0, total) / size))


def clamp_page(page: int, total: int, size: int = SESSIONS_PER_PAGE) -> int:
    return max(0, min(page, page_count(total, size) - 1))


def regenerable(messages: Sequence[Mapping[str, Any]]) -> bool:
    """True when the last message is a reply to a user message (not the greeting alone)."""
    if not messages or messages[-1].get("role") != "assistant":
        return False
    return any(m.get("role") == "user" for m in messages[:-1])


def shown_messages(
    messages: Sequence[Mapping[str, Any]], *, regenerating: bool
) -> list[Mapping[str, Any]]:
    """The messages to show: user and assistant turns; while a reply is being made
    again, without the reply it replaces."""
    shown = [m for m in messages if m.get("role") in ("user", "assistant")]
    if regenerating and regenerable(shown):
        shown = shown[:-1]
    return shown


def awaits_reply(messages: Sequence[Mapping[str, Any]]) -> bool:
    """True when the last stored message is the user's: its reply is not stored yet."""
    return bool(messages) and messages[-1].get("role") == "user"
