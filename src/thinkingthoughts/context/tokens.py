"""Token estimates for text and prompts, before (or without) the upstream's own count:
pure, cautious (they err high), and the one place the gateway guesses a size."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

MESSAGE_OVERHEAD_TOKENS = 4
"""Tokens a chat template spends around each message (role markers, separators)."""

ASCII_CHARS_PER_TOKEN = 3
"""Conservative: English averages about four characters per token."""


def estimate_tokens(text: str) -> int:
    """A cautious token estimate: over-counts ASCII text, counts other characters as one each.

    Used where the upstream offers no exact count; erring high keeps requests under the
    model's limit at the price of sending slightly less history.
    """
    ascii_chars = len(text) if text.isascii() else len(text.encode("ascii", "ignore"))
    non_ascii = len(text) - ascii_chars
    return -(-ascii_chars // ASCII_CHARS_PER_TOKEN) + non_ascii


def estimate_message_tokens(content: str) -> int:
    return estimate_tokens(content) + MESSAGE_OVERHEAD_TOKENS


def estimate_prompt_tokens(messages: Iterable[Mapping[str, Any]]) -> int:
    """A prompt's size before the upstream counts it: the text of each message (of its
    text parts, for OpenAI's content parts; an image's data is not text)."""
    return sum(estimate_message_tokens(message_text(m.get("content"))) for m in messages)


def reply_token_ceiling(payload: Mapping[str, Any], default: int) -> int:
    """The most tokens a reply may take: what the request asks, else `default` (the
    gateway's MAX_TOKENS, when a client leaves the reply's length to the upstream)."""
    for name in ("max_completion_tokens", "max_tokens"):
        value = payload.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return default


def message_text(content: object) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            str(part.get("text") or "")
            for part in content
            if isinstance(part, dict) and part.get("type") == "text"
        )
    return ""
