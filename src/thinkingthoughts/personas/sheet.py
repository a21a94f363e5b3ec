"""The persona character sheet, as stored, served over the API and compiled into prompts."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Container
from copy import copy
from typing import Annotated, Any, Literal

from pydantic import (
    ConfigDict,
    Field,
    StringConstraints,
    WithJsonSchema,
    create_model,
    field_validator,
)
from pydantic.fields import FieldInfo

from thinkingthoughts.personas.catalog import MAX_TRAIT_LEVEL, MIN_TRAIT_LEVEL, TRAIT_MAP_SCHEMA
from thinkingthoughts.value_rules import (
    NON_BLANK,
    NUMBERS_ONLY,
    ClientModel,
)

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
ListItem = Annotated[
    str, StringConstraints(min_length=1, max_length=MAX_LIST_ITEM_CHARS), NON_BLANK
]
AppearanceKey = Annotated[
    str, StringConstraints(min_length=1, max_length=MAX_APPEARANCE_KEY_CHARS), NON_BLANK
]
AppearanceValue = Annotated[
    str, StringConstraints(min_length=1, max_length=MAX_APPEARANCE_VALUE_CHARS), NON_BLANK
]
TraitLevel = Annotated[int, Field(ge=MIN_TRAIT_LEVEL, le=MAX_TRAIT_LEVEL), NUMBERS_ONLY]
TraitLevels = Annotated[dict[str, TraitLevel], WithJsonSchema(TRAIT_MAP_SCHEMA)]
"""Levels by trait id; the ids are checked against the catalog by whoever holds it."""
RequestedTraits = Annotated[dict[str, object], WithJsonSchema(TRAIT_MAP_SCHEMA)]
"""Levels a request asks for, checked as a whole by `validate_trait_levels` (its errors
name the trait), published as the same map."""
MAX_NUMERIC_AGE = 2**53 - 1
"""The largest age sent as a number: every JSON reader holds it exactly (JavaScript's
largest safe integer), so that the published bound means the same to every client."""
AGE_SCHEMA: dict[str, Any] = {
    "anyOf": [
        {"type": "string", "maxLength": MAX_AGE_CHARS},
        {"type": "integer", "minimum": 0, "maximum": MAX_NUMERIC_AGE},
        {"type": "null"},
    ]
}
"""Ages are free text ("ageless", "about 30"); a plain number is taken as its text."""

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

    name: Annotated[str, NON_BLANK] = Field(min_length=1, max_length=MAX_NAME_CHARS)
    slug: str = Field(pattern=SLUG_PATTERN)
    base_prompt: str = Field(default="", max_length=MAX_PROMPT_CHARS)
    greeting: str | None = Field(default=None, max_length=MAX_GREETING_CHARS)
    age: Annotated[str | None, WithJsonSchema(AGE_SCHEMA)] = Field(
        default=None, max_length=MAX_AGE_CHARS
    )
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
    default_traits: TraitLevels = Field(default_factory=dict)
    locale: Locale = "en"

    @field_validator("age", mode="before")
    @classmethod
    def _age_as_text(cls, value: object) -> object:
        # See AGE_SCHEMA; 30.0 is the integer 30, as JSON Schema counts integers.
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, int) and not isinstance(value, bool):
            if not 0 <= value <= MAX_NUMERIC_AGE:
                raise ValueError(f"an age given as a number is from 0 to {MAX_NUMERIC_AGE}")
            return str(value)
        return value

    @field_validator(*_OPTIONAL_TEXT_FIELDS, mode="before")
    @classmethod
    def _blank_as_missing(cls, value: object) -> object:
        # Forms send "" for an untouched field; storing null keeps "empty" one thing.
        if isinstance(value, str) and not value.strip():
            return None
        return value


def _patch_field(field: FieldInfo) -> tuple[Any, FieldInfo]:
    optional = copy(field)
    optional.default, optional.default_factory = None, None
    return field.annotation, optional


def _without_defaults(schema: dict[str, Any]) -> None:
    # A field left out is left unchanged: no default is published, least of all a null
    # for a field that refuses null.
    for field_schema in schema.get("properties", {}).values():
        field_schema.pop("default", None)


_PATCH_FIELDS: dict[str, Any] = {
    name: _patch_field(field) for name, field in PersonaSheet.model_fields.items()
}
PersonaPatch = create_model(
    "PersonaPatch",
    __base__=PersonaSheet,
    __doc__="""A merge patch of a sheet: any of its fields, each with the sheet's rules; the
    fields sent replace the stored ones. Unknown fields are refused, as in a whole sheet.""",
    **_PATCH_FIELDS,
)
PersonaPatch.model_config["json_schema_extra"] = _without_defaults
PersonaPatch.model_rebuild(force=True)


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
