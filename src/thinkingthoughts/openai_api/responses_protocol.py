"""Wire models of OpenAI's Responses API (`/v1/responses`): what the gateway reads of a
request, and how a response id names the stored message it is.

A request is read as far as it maps onto a chat turn: `model` (an upstream model or a
persona model), `input` (text, or messages whose content is text or text parts),
`instructions`, `previous_response_id`, `store`, `stream` and the sampling fields below.
Every other field is accepted (its values follow the gateway's value rules) and ignored:
it has no meaning for a chat completion upstream.
"""

from __future__ import annotations

import re
import uuid
from functools import partial
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, WithJsonSchema

from thinkingthoughts.openai_api.protocol import (
    PERSONA_MODEL_PREFIX,
    Probability,
    Temperature,
    TokenCount,
)
from thinkingthoughts.openai_api.request_rules import (
    model_schema,
    persona_only_traits,
    published,
)
from thinkingthoughts.personas.sheet import RequestedTraits
from thinkingthoughts.value_rules import ClientModel

RESPONSE_ID_PREFIX = "resp_"
OUTPUT_MESSAGE_ID_PREFIX = "msg_"
_RESPONSE_ID = re.compile(r"resp_([0-9a-f]{32})")
MetadataKey = Annotated[str, Field(max_length=64)]
MetadataValue = Annotated[str, Field(max_length=512)]


class TextPart(BaseModel):
    """A text part of an input message: `input_text`, or `output_text` (an earlier reply
    sent back, with its `annotations`, which are ignored)."""

    model_config = ConfigDict(extra="allow")

    type: Literal["input_text", "output_text"]
    text: str


class InputMessage(BaseModel):
    """A message of `input`, in the easy shape (`{"role", "content"}`) or the item shape
    (`"type": "message"`, with an `id` and `status` when it is an earlier output)."""

    model_config = ConfigDict(extra="allow")

    type: Literal["message"] = "message"
    role: Literal["user", "assistant", "system", "developer"]
    content: str | list[TextPart]

    def text(self) -> str:
        if isinstance(self.content, str):
            return self.content
        return "\n".join(part.text for part in self.content)


class ResponsesRequest(ClientModel):
    model_config = ConfigDict(
        extra="allow",
        json_schema_extra=published(partial(persona_only_traits, PERSONA_MODEL_PREFIX)),
    )

    model: Annotated[str, WithJsonSchema(model_schema(PERSONA_MODEL_PREFIX))] = Field(min_length=1)
    input: Annotated[list[InputMessage], Field(min_length=1)] | str
    """Messages, or one user message's text (the list is named first so that a list at
    fault is described by what is wrong in it, not as a string it is not)."""
    instructions: str | None = None
    """A system message for this response only, after the persona's prompt; it is not
    carried to the responses that continue this one (as OpenAI does)."""
    previous_response_id: str | None = None
    store: StrictBool = True
    stream: StrictBool = False
    max_output_tokens: TokenCount | None = None
    temperature: Temperature | None = None
    top_p: Probability | None = None
    user: str | None = None
    metadata: Annotated[dict[MetadataKey, MetadataValue], Field(max_length=16)] | None = None
    traits: RequestedTraits | None = None
    """Trait levels for a persona model (`persona:<slug>`); refused with any other."""

    def input_messages(self) -> list[InputMessage]:
        if isinstance(self.input, str):
            return [InputMessage(role="user", content=self.input)]
        return list(self.input)

    def texts(self) -> list[str]:
        """Every text the request carries, for the per-request limits."""
        texts = [message.text() for message in self.input_messages()]
        return [self.instructions, *texts] if self.instructions is not None else texts

    def sampling_fields(self) -> dict[str, Any]:
        """The fields a chat completion takes under its own names."""
        fields = {
            "max_tokens": self.max_output_tokens,
            "temperature": self.temperature,
            "top_p": self.top_p,
            "user": self.user,
        }
        return {name: value for name, value in fields.items() if value is not None}


def response_id_for(message_id: str) -> str:
    """The response id of a stored reply (a uuid): `resp_` and its 32 hex digits."""
    return RESPONSE_ID_PREFIX + uuid.UUID(message_id).hex


def message_id_for(response_id: str) -> str | None:
    """The stored reply a response id names; None when it names none (not one of ours)."""
    found = _RESPONSE_ID.fullmatch(response_id)
    return None if found is None else str(uuid.UUID(found.group(1)))


def output_message_id(response_id: str) -> str:
    """The id of a response's one output message: `msg_` and the response's own digits."""
    return OUTPUT_MESSAGE_ID_PREFIX + response_id.removeprefix(RESPONSE_ID_PREFIX)
