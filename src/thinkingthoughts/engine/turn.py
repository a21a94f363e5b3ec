"""The data of one chat turn, as the service sees it (independent of the HTTP layer)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from thinkingthoughts.access.key_policy import KeyPolicy
from thinkingthoughts.storage.turn_rows import ACTIVE_LEAF, ParentChoice
from thinkingthoughts.upstream.protocol import Usage

if TYPE_CHECKING:
    from thinkingthoughts.usage.metering import TurnMeter

Role = Literal["system", "user", "assistant"]
MessageStatus = Literal["complete", "interrupted", "error"]


@dataclass(frozen=True, slots=True)
class TurnMessage:
    role: Role
    content: str


@dataclass(frozen=True, slots=True)
class ReplyTarget:
    """Where a reply is recorded; no session means a stateless call, nothing stored."""

    session_id: str | None
    message_id: str | None
    model: str
    meter: TurnMeter | None = None
    parent_id: ParentChoice = ACTIVE_LEAF
    """The message the reply goes under (the user message it answers)."""


@dataclass(frozen=True, slots=True)
class TurnRequest:
    """What a client asks for.

    With `session_id`, `messages` are the new turns to append to that session. Without
    it, `stateless` says whether `messages` is the whole conversation (nothing stored)
    or the start of a new session.
    """

    owner: str
    session_id: str | None
    persona_ref: str | None
    traits: Mapping[str, object]
    messages: tuple[TurnMessage, ...]
    stateless: bool
    max_tokens: int | None = None
    sampling: Mapping[str, Any] = field(default_factory=dict)
    policy: KeyPolicy = field(default_factory=KeyPolicy)
    """The calling key's allow-lists."""
    sees_every_persona: bool = False
    """An admin's turn may use any persona; others only global ones and their own."""
    meter: TurnMeter | None = None
    model: str | None = None
    """An upstream model by name; None: the configured one."""
    regenerate: bool = False
    """Answer a user message again: a new reply beside the ones it has (a swipe)."""
    parent_id: str | None = None
    """The first new message's parent ("root": a new root), or with `regenerate` the
    user message to answer; None continues the session's active leaf."""


@dataclass(frozen=True, slots=True)
class PreparedTurn:
    """Everything needed to call the upstream; the user turn is already stored."""

    session_id: str | None
    persona_id: str
    persona_slug: str
    assistant_message_id: str | None
    model: str
    upstream_messages: list[dict[str, Any]]
    max_tokens: int
    sampling: Mapping[str, Any]
    history_sent: int
    prompt_estimate: int = 0
    meter: TurnMeter | None = None
    user_message_id: str | None = None
    """The last user message this turn stored, or the one a regenerate answers."""
    reply_parent_id: str | None = None
    """The message the reply goes under."""

    @property
    def reply_target(self) -> ReplyTarget:
        return ReplyTarget(
            self.session_id,
            self.assistant_message_id,
            self.model,
            self.meter,
            parent_id=self.reply_parent_id,
        )

    def upstream_payload(self) -> dict[str, Any]:
        return {
            **self.sampling,
            "model": self.model,
            "messages": self.upstream_messages,
            "max_tokens": self.max_tokens,
        }


@dataclass(frozen=True, slots=True)
class TurnResult:
    content: str
    session_id: str | None
    message_id: str | None
    persona_slug: str
    model: str
    finish_reason: str | None
    usage: Usage | None
    user_message_id: str | None = None
    parent_id: str | None = None


@dataclass(frozen=True, slots=True)
class StreamStarted:
    session_id: str | None
    message_id: str | None
    persona_slug: str
    model: str
    user_message_id: str | None = None
    parent_id: str | None = None


@dataclass(frozen=True, slots=True)
class StreamDelta:
    content: str


@dataclass(frozen=True, slots=True)
class StreamFinished:
    message_id: str | None
    finish_reason: str | None
    usage: Usage | None


StreamEvent = StreamStarted | StreamDelta | StreamFinished
