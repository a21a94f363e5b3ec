"""Limits on what one request may carry, from the settings."""

from __future__ import annotations

from collections.abc import Sequence

from thinkingthoughts.errors import PayloadTooLargeError
from thinkingthoughts.settings import Settings


def enforce_message_limits(contents: Sequence[str], settings: Settings) -> None:
    if len(contents) > settings.max_messages_per_request:
        raise PayloadTooLargeError(
            f"at most {settings.max_messages_per_request} messages per request",
            code="too_many_messages",
        )
    if any(len(content) > settings.max_message_chars for content in contents):
        raise PayloadTooLargeError(
            f"a message may hold at most {settings.max_message_chars} characters",
            code="message_too_long",
        )
