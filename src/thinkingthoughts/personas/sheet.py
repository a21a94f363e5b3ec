"""The persona character sheet, as stored, served over the API and compiled into prompts."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Container
from typing import Annotated, Literal

from pydantic import ConfigDict, Field, StrictInt, StringConstraints, field_validator

from thinkingthoughts.value_rules import ClientModel

MAX_NAME_CHARS = 100
MAX_SLUG_CHARS = 63
MAX_PROMPT_CHARS = 8000
MAX_GREETING_CHARS = 2000
MAX_AGE_CHARS = 50
MAX_SHORT_TEXT_CHARS = 500
MAX_LIST_ITEM_CHARS = 200
MAX_LIST_ITEMS = 50
MAX_APPEARANCE_KEY_CHARS = 50
MAX_APPEARANCE_VALUE_CHARS = 200
MAX_APPEARANCE_KEYS = 20

SLUG_PATTERN = r"^[a-z0-9][a-z0-9-]{0,62}$"
FALLBACK_SLUG = "persona"

Locale = Literal["en", "fr"]
ShortText = Annotated[str, StringConstraints(max_length=MAX_SHORT_TEXT_CHARS)]
ListItem = Annotated[str, StringConstraints(min_length=1, max_length=MAX_LIST_ITEM_CHARS)]
AppearanceKey = Annotated[str, StringConstraints(min_length=1, max_length=MAX_APPEARANCE_KEY_CHARS)]
AppearanceValue = Annotated[
    str, StringConstraints(min_length=1, max_length=MAX_APPEARANCE_VALUE_CHARS)
]
TraitLevel = Annotated[StrictInt, Field(ge=1, le=5)]

_OPTIONAL_TEXT_FIELDS = (
    "greeting",
    "age",
    "tone",
    "humor",
    "emoji_usage",
    "message_style",
    "example_dialogue",
)


class PersonaSheet(ClientModel):
    """Who a persona is. Empty optional fields are stored as null and left out of prompts.

    Trait ids in `default_traits` are checked against the trait catalog by whoever holds
    the catalog; here only their levels (1 to 5) are checked.
    """

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=MAX_NAME_CHARS)
    slug: str = Field(pattern=SLUG_PATTERN)
    base_prompt: str = Field(default="", max_length=MAX_PROMPT_CHARS)
    greeting: str | None = Field(default=None, max_length=MAX_GREETING_CHARS)
    age: str | None = Field(default=None, max_length=MAX_AGE_CHARS)
    tone: ShortText | None = None
    humor: ShortText | None = None
    favorite_expressions: list[ListItem] = Field(default_factory=list, max_length=MAX_LIST_ITEMS)
    interests: list[ListItem] = Field(default_factory=list, max_length=MAX_LIST_ITEMS)
    forbidden_topics: list[ListItem] = Field(default_factory=list, max_length=MAX_LIST_ITEMS)
    emoji_usage: ShortText | None = None
    message_style: ShortText | None = None
    appearance: dict[AppearanceKey, AppearanceValue] = Field(
        default_factory=dict, max_length=MAX_APPEARANCE_KEYS
    )
    example_dialogue: str | None = Field(default=None, max_length=MAX_PROMPT_CHARS)
    default_traits: dict[str, TraitLevel] = Field(default_factory=dict)
    locale: Locale = "en"

    @field_validator("age", mode="before")
    @classmethod
    def _age_as_text(cls, value: object) -> object:
        # Ages are free text ("ageless", "about 30"); a plain number is accepted as such.
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        return value

    @field_validator(*_OPTIONAL_TEXT_FIELDS, mode="before")
    @classmethod
    def _blank_as_missing(cls, value: object) -> object:
        # Forms send "" for an untouched field; storing null keeps "empty" one thing.
        if isinstance(value, str) and not value.strip():
            return None
        return value


_LIGATURES = str.maketrans(
    {"æ": "ae", "Æ": "AE", "œ": "oe", "Œ": "OE", "ß": "ss", "ø": "o", "Ø": "O", "ł": "l"}
)


def slugify(name: str) -> str:
    """A URL-safe slug for a name: ASCII, lowercase, dashes, at most 63 characters.

    Accents are folded ("Séline" → "seline"); a name with nothing usable gives "persona".
    """
    folded = unicodedata.normalize("NFKD", name.translate(_LIGATURES))
    ascii_name = folded.encode("ascii", "ignore").decode("ascii").lower()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name).strip("-")
    slug = slug[:MAX_SLUG_CHARS].rstrip("-")
    return slug or FALLBACK_SLUG


def unique_slug(base: str, taken: Container[str]) -> str:
    """`base` if free, else the first free of `base-2`, `base-3`, ... (kept to 63 characters)."""
    if base not in taken:
        return base
    number = 2
    while True:
        suffix = f"-{number}"
        candidate = base[: MAX_SLUG_CHARS - len(suffix)].rstrip("-") + suffix
        if candidate not in taken:
            return candidate
        number += 1
