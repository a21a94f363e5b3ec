"""How a turn's consumption is reported to whoever meters the calling key.

The chat services call `reserve` before a turn is stored, and `observe` and then
`close` where they record a reply (every way a turn ends goes through there); what to do
with the figures (token limits, usage accounting) is the meter's business.
`settled_usage` is the pure rule for turns the upstream did not count.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from thinkingthoughts.chat.context import estimate_message_tokens, estimate_tokens
from thinkingthoughts.chat.turns import MessageStatus
from thinkingthoughts.upstream.protocol import Usage


class TurnMeter(Protocol):
    @property
    def limits_tokens(self) -> bool:
        """Whether the key has a token window (worth estimating the prompt for)."""

    async def reserve(self, *, prompt_tokens: int, reply_tokens: int) -> None:
        """Before the turn is stored: take what it may use, or refuse it (429)."""

    def observe(self, *, usage: Usage | None, content: str, status: MessageStatus) -> None:
        """The reply ended: what the upstream reported (if anything) and what was relayed."""

    async def close(self) -> None:
        """Settle the turn (at most once; never raises)."""


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


def settled_usage(
    *, reported: Usage | None, content: str, status: MessageStatus, prompt_estimate: int
) -> Usage:
    """The usage to account for a turn: the upstream's figures when it gave them; else
    the prompt estimate (nothing when the upstream failed before a word) and the
    relayed text's estimate."""
    if reported is not None:
        return reported
    if status == "error" and not content:
        return Usage(prompt_tokens=0, completion_tokens=0)
    completion = estimate_tokens(content) if content else 0
    return Usage(prompt_tokens=prompt_estimate, completion_tokens=completion)
