"""Wire models of `POST /api/chat`."""

from __future__ import annotations

from typing import Literal, Self

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, StrictInt, model_validator

from thinkingthoughts.value_rules import ClientModel, Number


class ChatMessageIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Literal["system", "user", "assistant"]
    content: str


class ChatRequest(ClientModel):
    """A turn. `message` alone starts or continues a session; `messages` (or `history`
    plus `message`) without a session is a stateless call, as the original prototype's."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    session_id: str | None = Field(default=None, max_length=64)
    persona: str | None = Field(default=None, min_length=1, max_length=64)
    traits: dict[str, object] = Field(
        default_factory=dict, validation_alias=AliasChoices("traits", "sliders")
    )
    message: str | None = None
    messages: list[ChatMessageIn] | None = None
    history: list[ChatMessageIn] | None = None
    stream: bool = False
    temperature: Number | None = Field(default=None, ge=0, le=2)
    top_p: Number | None = Field(default=None, gt=0, le=1)
    max_tokens: StrictInt | None = Field(default=None, ge=1, le=1_000_000)
    model: str | None = Field(default=None, min_length=1, max_length=200)
    regenerate: bool = False
    """With `session_id` and no message: answer the last user message again."""

    @model_validator(mode="after")
    def _one_way_to_send_messages(self) -> Self:
        if self.regenerate:
            if self.session_id is None:
                raise ValueError("'regenerate' needs the 'session_id' of the conversation")
            if self.message is not None or self.messages is not None or self.history:
                raise ValueError("'regenerate' answers the last message again; send none")
            return self
        if (self.message is None) == (self.messages is None):
            raise ValueError("send either 'message' (a string) or 'messages' (a list)")
        if self.history is not None and self.message is None:
            raise ValueError("'history' goes with 'message'")
        if self.history is not None and self.session_id is not None:
            raise ValueError("'history' is for stateless calls; a session keeps its own")
        turns = self.turns()
        if not turns:
            raise ValueError("'messages' must not be empty")
        if any(not m.content.strip() for m in turns if m.role == "user"):
            raise ValueError("a user message must not be empty")
        if turns[-1].role != "user":
            raise ValueError("the last message must be the user's")
        return self

    def turns(self) -> list[ChatMessageIn]:
        if self.message is not None:
            return [*(self.history or []), ChatMessageIn(role="user", content=self.message)]
        return list(self.messages or [])

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
    persona: str
    model: str
    finish_reason: str | None
    usage: UsageOut | None
