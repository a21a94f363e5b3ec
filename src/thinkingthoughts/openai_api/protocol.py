"""Wire models of the OpenAI-compatible API: what is checked, and what passes through.

Only what the gateway acts on is validated; every other field a client sends (sampling
parameters, `tools`, `response_format`, `logprobs`, `user`, ...) is kept and passed to
the inference server untouched.
"""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any, Literal, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from thinkingthoughts.openai_api.request_rules import (
    content_part_rules,
    message_rules,
    model_schema,
    number_schema,
    persona_only_traits,
    published,
)
from thinkingthoughts.personas.sheet import RequestedTraits
from thinkingthoughts.value_rules import MAX_INT64, NUMBERS_ONLY, ClientModel, Int64, Number

PERSONA_MODEL_PREFIX = "persona:"
TokenCount = Annotated[int, Field(ge=1, le=MAX_INT64), NUMBERS_ONLY]
"""A count of tokens (`max_tokens`...): an integer as JSON Schema counts them (2.0 is 2)."""
# Bounds on a union (`Number`) are enforced but published under pydantic's own names
# (`ge`, `le`), which no JSON Schema reader knows: each bounded number states its schema.
Temperature = Annotated[Number, Field(ge=0, le=2), WithJsonSchema(number_schema(0, 2))]
Probability = Annotated[Number, Field(ge=0, le=1), WithJsonSchema(number_schema(0, 1))]
Penalty = Annotated[Number, Field(ge=-2, le=2), WithJsonSchema(number_schema(-2, 2))]
LogitBias = Annotated[Number, Field(ge=-100, le=100), WithJsonSchema(number_schema(-100, 100))]
ChoiceCount = Annotated[
    int, Field(ge=1), WithJsonSchema({"type": "integer", "minimum": 1, "maximum": 1}), NUMBERS_ONLY
]
"""`n`: published as at most 1, the one choice the gateway serves; a larger `n` is refused
with OpenAI's `unsupported_value`, not a bound's code."""
TopLogprobs = Annotated[int, Field(ge=0, le=20), NUMBERS_ONLY]
GATEWAY_ONLY_FIELDS = frozenset({"traits"})


class ContentPart(BaseModel):
    """One part of a message's content: text is checked, other kinds pass through."""

    model_config = ConfigDict(extra="allow", json_schema_extra=published(content_part_rules))

    type: str = Field(min_length=1)
    text: str | None = None

    @model_validator(mode="after")
    def _text_parts_have_text(self) -> Self:
        if self.type == "text" and self.text is None:
            raise ValueError("a text part needs 'text'")
        return self


class ChatMessage(BaseModel):
    """A message as OpenAI takes it: every role needs `content`, except an assistant that
    calls tools (or a function, in the deprecated shape). The published schema states the
    same per role (`request_rules.message_rules`)."""

    model_config = ConfigDict(extra="allow", json_schema_extra=published(message_rules))

    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    """`function` (with `name`) is the deprecated shape of a tool result, still accepted."""
    content: str | list[ContentPart] | None = None
    name: str | None = None

    @model_validator(mode="after")
    def _content_where_required(self) -> Self:
        if self.content is None and not self.carries_calls:
            raise ValueError(f"a '{self.role}' message needs 'content'")
        if self.role == "function" and self.name is None:
            raise ValueError("a 'function' message needs the function's 'name'")
        return self

    @property
    def carries_calls(self) -> bool:
        """An assistant message with `tool_calls` (a non-empty list) or, in the deprecated
        shape, a `function_call` (an object); both are relayed as sent."""
        if self.role != "assistant":
            return False
        extra = self.model_extra or {}
        tool_calls, function_call = extra.get("tool_calls"), extra.get("function_call")
        return (isinstance(tool_calls, list) and bool(tool_calls)) or isinstance(
            function_call, dict
        )

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

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra=published(partial(persona_only_traits, PERSONA_MODEL_PREFIX)),
    )

    model: Annotated[str, WithJsonSchema(model_schema(PERSONA_MODEL_PREFIX))] = Field(min_length=1)
    messages: list[ChatMessage] = Field(min_length=1)
    stream: StrictBool = False
    """Strict, as OpenAI's: `"true"` is a string, refused, not read as a boolean."""
    n: ChoiceCount | None = None
    max_tokens: TokenCount | None = None
    max_completion_tokens: TokenCount | None = None
    seed: Int64 | None = None
    temperature: Temperature | None = None
    top_p: Probability | None = None
    presence_penalty: Penalty | None = None
    frequency_penalty: Penalty | None = None
    logit_bias: dict[str, LogitBias] | None = None
    top_logprobs: TopLogprobs | None = None
    stream_options: dict[str, Any] | None = None
    traits: RequestedTraits | None = None
    """Trait levels for a persona model (`persona:<slug>`); refused with any other."""
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
