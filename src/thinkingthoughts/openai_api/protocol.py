"""Wire models of the OpenAI-compatible API: what is checked, and what passes through.

Only what the gateway acts on is validated; every other field a client sends (sampling
parameters, `tools`, `response_format`, `logprobs`, `user`, ...) is kept and passed to
the inference server untouched.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from thinkingthoughts.value_rules import MAX_INT64, ClientModel, Int64, Number

PERSONA_MODEL_PREFIX = "persona:"
TokenCount = Annotated[StrictInt, Field(ge=1, le=MAX_INT64)]
Penalty = Annotated[Number, Field(ge=-2, le=2)]
LogitBias = Annotated[Number, Field(ge=-100, le=100)]
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

    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    """`function` (with `name`) is the deprecated shape of a tool result, still accepted."""
    content: str | list[ContentPart] | None = None

    @model_validator(mode="after")
    def _content_where_required(self) -> Self:
        # An assistant calling tools (or a function, in the deprecated shape) may say nothing.
        carries_calls = self.role == "assistant" and (
            getattr(self, "tool_calls", None) or getattr(self, "function_call", None)
        )
        if self.content is None and not carries_calls:
            raise ValueError(f"a '{self.role}' message needs 'content'")
        if self.role == "function" and not isinstance(getattr(self, "name", None), str):
            raise ValueError("a 'function' message needs the function's 'name'")
        return self

    def text(self) -> str:
        """The message's text: the string, or its text parts joined."""
        if isinstance(self.content, str):
            return self.content
        if self.content is None:
            return ""
        return "\n".join(part.text for part in self.content if part.text is not None)


class ChatCompletionRequest(ClientModel):
    """Every string and number anywhere in the body, passthrough fields included, follows
    the gateway's value rules (`value_rules`); the sampling fields below carry the bounds
    OpenAI documents for them, so a value OpenAI refuses is refused here, not upstream."""

    model_config = ConfigDict(extra="allow")

    model: str = Field(min_length=1)
    messages: list[ChatMessage] = Field(min_length=1)
    stream: StrictBool = False
    """Strict, as OpenAI's: `"true"` is a string, refused, not read as a boolean."""
    n: StrictInt | None = Field(default=None, ge=1)
    max_tokens: TokenCount | None = None
    max_completion_tokens: TokenCount | None = None
    seed: Int64 | None = None
    temperature: Annotated[Number, Field(ge=0, le=2)] | None = None
    top_p: Annotated[Number, Field(ge=0, le=1)] | None = None
    presence_penalty: Penalty | None = None
    frequency_penalty: Penalty | None = None
    logit_bias: dict[str, LogitBias] | None = None
    top_logprobs: Annotated[StrictInt, Field(ge=0, le=20)] | None = None
    stream_options: dict[str, Any] | None = None
    traits: dict[str, object] | None = None
    user: str | None = None

    @field_validator("n")
    @classmethod
    def _one_choice(cls, n: int | None) -> int | None:
        if n is not None and n > 1:
            raise PydanticCustomError(
                "unsupported_value", "n > 1 is not supported: ask for one choice per request"
            )
        return n

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
    """A model as the upstream lists it: these fields, and whatever else it sends
    (vLLM's `max_model_len`, `root`, `parent`, `permission`), relayed as they are."""

    model_config = ConfigDict(extra="allow")

    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]
