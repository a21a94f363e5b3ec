"""Wire models of `POST /api/chat`."""

from __future__ import annotations

from typing import Annotated, Any, Literal, Self

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, StrictFloat, model_validator

from thinkingthoughts.engine.session_ids import SESSION_ID_PATTERN
from thinkingthoughts.personas.sheet import RequestedTraits
from thinkingthoughts.value_rules import (
    NON_BLANK,
    NON_BLANK_TEXT_PATTERN,
    NUMBERS_ONLY,
    ClientModel,
    is_blank,
)

_ABSENT_OR_NULL: dict[str, Any] = {"type": "null"}
_NO_HISTORY: dict[str, Any] = {"anyOf": [{"type": "null"}, {"type": "array", "maxItems": 0}]}
_SENT = {"message": {"type": "string"}, "messages": {"type": "array"}}

CHAT_REQUEST_RULES: dict[str, Any] = {
    "allOf": [
        {
            "if": {"required": ["regenerate"], "properties": {"regenerate": {"const": True}}},
            "then": {
                "required": ["session_id"],
                "properties": {
                    "session_id": {"type": "string"},
                    "message": _ABSENT_OR_NULL,
                    "messages": _ABSENT_OR_NULL,
                    "history": _NO_HISTORY,
                },
            },
            "else": {
                "oneOf": [
                    {"required": [name], "properties": {name: schema}}
                    for name, schema in _SENT.items()
                ]
            },
        },
        {
            "if": {"required": ["session_id"], "properties": {"session_id": {"type": "string"}}},
            "then": {"properties": {"history": _NO_HISTORY}},
        },
        {
            "if": {"required": ["parent_id"], "properties": {"parent_id": {"type": "string"}}},
            "then": {"required": ["session_id"], "properties": {"session_id": {"type": "string"}}},
        },
    ]
}
"""`ChatRequest._one_way_to_send_messages` as JSON Schema, so that the published document
calls valid exactly the combinations the gateway accepts (a missing field and null are one)."""


class ChatMessageIn(BaseModel):
    """A message of `messages` or `history`; the user's must not be blank."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "if": {"properties": {"role": {"const": "user"}}},
            "then": {"properties": {"content": {"pattern": NON_BLANK_TEXT_PATTERN}}},
        },
    )

    role: Literal["system", "user", "assistant"]
    content: str


class ChatRequest(ClientModel):
    """A turn. `message` alone starts or continues a session; `messages` (or `history`
    plus `message`) without a session is a stateless call, as the original prototype's.

    `history` holds earlier turns, put before `message` or `messages`; an empty one is no
    history. The turn may end on any role (an assistant message is a start the model
    continues, as OpenAI's API accepts). The published schema states every rule
    (`CHAT_REQUEST_RULES`).
    """

    model_config = ConfigDict(
        extra="forbid", populate_by_name=True, json_schema_extra=CHAT_REQUEST_RULES
    )

    session_id: str | None = Field(
        default=None, max_length=64, json_schema_extra={"pattern": SESSION_ID_PATTERN}
    )
    """The caller's session, or a UUID of the client's choosing that starts one. Not
    validated here: a value that is no UUID is a 400 `invalid_session_id`."""
    persona: str | None = Field(default=None, min_length=1, max_length=64)
    traits: RequestedTraits = Field(
        default_factory=dict, validation_alias=AliasChoices("traits", "sliders")
    )
    message: Annotated[str, NON_BLANK] | None = None
    messages: list[ChatMessageIn] | None = Field(default=None, min_length=1)
    history: list[ChatMessageIn] | None = None
    stream: bool = False
    # StrictFloat takes 1 as 1.0 and refuses true; bounds on a union (`Number`) would be
    # published under pydantic's own names, which no JSON Schema reader knows.
    temperature: Annotated[StrictFloat, Field(ge=0, le=2)] | None = None
    top_p: Annotated[StrictFloat, Field(gt=0, le=1)] | None = None
    max_tokens: Annotated[int, Field(ge=1, le=1_000_000), NUMBERS_ONLY] | None = None
    model: str | None = Field(default=None, min_length=1, max_length=200)
    regenerate: bool = False
    """With `session_id` and no message: answer a user message again (the active leaf's,
    or the one `parent_id` names) with a new reply beside the earlier ones."""
    parent_id: str | None = Field(default=None, min_length=1, max_length=64)
    """With `session_id`: the message the new ones follow (a branch when it is not the
    active leaf; "root" starts a new root). Without it they follow the active leaf."""

    @model_validator(mode="after")
    def _one_way_to_send_messages(self) -> Self:
        if self.parent_id is not None and self.session_id is None:
            raise ValueError("'parent_id' names a message of the session 'session_id' names")
        if self.regenerate:
            if self.session_id is None:
                raise ValueError("'regenerate' needs the 'session_id' of the conversation")
            if self.message is not None or self.messages is not None or self.history:
                raise ValueError("'regenerate' answers the last message again; send none")
            return self
        if (self.message is None) == (self.messages is None):
            raise ValueError("send either 'message' (a string) or 'messages' (a list)")
        if self.history and self.session_id is not None:
            raise ValueError("'history' is for stateless calls; a session keeps its own")
        if any(is_blank(m.content) for m in self.turns() if m.role == "user"):
            raise ValueError("a user message must not be empty")
        return self

    def turns(self) -> list[ChatMessageIn]:
        sent = (
            [ChatMessageIn(role="user", content=self.message)]
            if self.message is not None
            else list(self.messages or [])
        )
        return [*(self.history or []), *sent]

    @property
    def stateless(self) -> bool:
        return self.session_id is None and (self.messages is not None or self.history is not None)


class UsageOut(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class ChatResponse(BaseModel):
    assistant: str
    session_id: str | None
    message_id: str | None
    user_message_id: str | None
    """The last user message this turn stored, or the one a regenerate answered."""
    parent_id: str | None
    """The reply's parent (the user message it answers)."""
    persona: str
    model: str
    finish_reason: str | None
    usage: UsageOut | None
