"""Wire models of `/v1/completions` and `/v1/embeddings`, relayed to the upstream as sent.

Checked only where the gateway acts: the model (allow-lists, persona models refused), the
prompt or input (its size is estimated for the key's token window), `stream`, and the
reply's ceiling; every other field passes through untouched, like the chat's.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import ConfigDict, Field, StrictBool

from thinkingthoughts.context.tokens import estimate_prompt_tokens
from thinkingthoughts.openai_api.protocol import TokenCount
from thinkingthoughts.value_rules import MAX_INT64, NUMBERS_ONLY, ClientModel

TokenId = Annotated[int, Field(ge=0, le=MAX_INT64), NUMBERS_ONLY]
TokenIds = Annotated[list[TokenId], Field(min_length=1)]
TextOrTokens = str | Annotated[list[str], Field(min_length=1)] | TokenIds | list[TokenIds]
"""What OpenAI takes as a prompt or an embedding input: text, texts, or token ids."""


def estimate_input_tokens(value: TextOrTokens) -> int:
    """Tokens a prompt or input will cost, before the upstream counts them."""
    if isinstance(value, str):
        return estimate_prompt_tokens([{"content": value}])
    if value and isinstance(value[0], str):
        return estimate_prompt_tokens({"content": text} for text in value)
    if value and isinstance(value[0], list):
        return sum(len(ids) for ids in value if isinstance(ids, list))
    return len(value)


class RelayedRequest(ClientModel):
    model_config = ConfigDict(extra="allow")

    model: str = Field(min_length=1)

    def upstream_payload(self) -> dict[str, Any]:
        """The body as the client sent it."""
        return self.model_dump(exclude_unset=True)


class CompletionRequest(RelayedRequest):
    prompt: TextOrTokens
    stream: StrictBool = False
    max_tokens: TokenCount | None = None
    stream_options: dict[str, Any] | None = None

    @property
    def include_usage(self) -> bool:
        return bool(self.stream_options and self.stream_options.get("include_usage"))

    def prompt_tokens(self) -> int:
        return estimate_input_tokens(self.prompt)


class EmbeddingRequest(RelayedRequest):
    input: TextOrTokens

    def input_tokens(self) -> int:
        return estimate_input_tokens(self.input)
