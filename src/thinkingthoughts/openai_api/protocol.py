"""Wire models of the OpenAI-compatible API: what is checked, and what passes through.

Only what the gateway acts on is validated; every other field a client sends (sampling
parameters, `tools`, `response_format`, `logprobs`, `user`, ...) is kept and passed to
the inference server untouched.
"""

from __future__ import annotations

from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

PERSONA_MODEL_PREFIX = "persona:"
GATEWAY_ONLY_FIELDS = frozenset({"traits"})


class ContentPart(BaseModel):
    """One part of a message's content: text is checked, other kinds pass through."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(min_length=1)
    text: str | None = None

    @model_validator(mode="after")
    def _text_parts_have_text(self) -> Self:
        if self.type == "text" and self.text is None:
            raise ValueError("a text part needs 'text'")
        return self


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[ContentPart] | None = None

    @model_validator(mode="after")
    def _content_where_required(self) -> Self:
        carries_tool_calls = self.role == "assistant" and getattr(self, "tool_calls", None)
        if self.content is None and not carries_tool_calls:
            raise ValueError(f"a '{self.role}' message needs 'content'")
        return self

    def text(self) -> str:
        """The message's text: the string, or its text parts joined."""
        if isinstance(self.content, str):
            return self.content
        if self.content is None:
            return ""
        return "\n".join(part.text for part in self.content if part.text is not None)


class ChatCompletionRequest(BaseModel):
    model_config = ConfigDict(extra="allow")

    model: str = Field(min_length=1)
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    n: int | None = Field(default=None, ge=1)
    stream_options: dict[str, Any] | None = None
    traits: dict[str, object] | None = None
    user: str | None = None

    @model_validator(mode="after")
    def _one_choice(self) -> Self:
        if self.n is not None and self.n > 1:
            raise ValueError("n > 1 is not supported: ask for one choice per request")
        return self

    @property
    def persona_slug(self) -> str | None:
        if self.model.startswith(PERSONA_MODEL_PREFIX):
            return self.model[len(PERSONA_MODEL_PREFIX) :]
        return None

    @property
    def include_usage(self) -> bool:
        return bool(self.stream_options and self.stream_options.get("include_usage"))

    def passthrough_fields(self) -> dict[str, Any]:
        """Everything to forward as sent (messages and model are rebuilt by the gateway)."""
        body = self.model_dump(exclude_unset=True, exclude_none=False)
        for name in (*GATEWAY_ONLY_FIELDS, "model", "messages", "stream"):
            body.pop(name, None)
        return body

    def upstream_messages(self) -> list[dict[str, Any]]:
        return [m.model_dump(exclude_unset=True) for m in self.messages]


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]
