"""Turns a row of the original prototype's `public.models` table into a persona sheet.

Prototype data is messy: lists stored as arrays or as comma/semicolon-separated text,
NULLs and blanks, values longer than the sheet allows. Rows are imported rather than
rejected: blanks are dropped and overly long values are cut to the sheet's limits.
"""

from __future__ import annotations

import re
from collections.abc import Container, Mapping
from typing import Any

from thinkingthoughts.personas.sheet import (
    MAX_AGE_CHARS,
    MAX_APPEARANCE_VALUE_CHARS,
    MAX_LIST_ITEM_CHARS,
    MAX_LIST_ITEMS,
    MAX_NAME_CHARS,
    MAX_PROMPT_CHARS,
    MAX_SHORT_TEXT_CHARS,
    PersonaSheet,
    slugify,
    unique_slug,
)

FALLBACK_NAME = "Persona"

APPEARANCE_COLUMNS: Mapping[str, str] = {
    "gender": "gender",
    "race": "ethnicity",
    "eye_color": "eye_color",
    "hair_color": "hair_color",
    "hair_type": "hair_type",
}
"""Prototype column → key in the sheet's `appearance`."""

_LIST_SEPARATORS = re.compile(r"[,;\n]")


def legacy_row_to_sheet(
    row: Mapping[str, Any], *, taken_slugs: Container[str] = ()
) -> PersonaSheet:
    """A sheet for one prototype row, with a slug unique against `taken_slugs`."""
    name = _text(row.get("name"), MAX_NAME_CHARS)
    if name is None:
        legacy_id = _text(row.get("id"), MAX_NAME_CHARS - len(FALLBACK_NAME) - 1)
        name = f"{FALLBACK_NAME} {legacy_id}" if legacy_id else FALLBACK_NAME
    appearance = {
        key: value
        for column, key in APPEARANCE_COLUMNS.items()
        if (value := _text(row.get(column), MAX_APPEARANCE_VALUE_CHARS)) is not None
    }
    return PersonaSheet(
        name=name,
        slug=unique_slug(slugify(name), taken_slugs),
        base_prompt=_text(row.get("base_prompt"), MAX_PROMPT_CHARS) or "",
        age=_text(row.get("age"), MAX_AGE_CHARS),
        tone=_text(row.get("personality_tone"), MAX_SHORT_TEXT_CHARS),
        humor=_text(row.get("personality_humor"), MAX_SHORT_TEXT_CHARS),
        favorite_expressions=_items(row.get("personality_favorite_expressions")),
        interests=_items(row.get("preferences_interests")),
        forbidden_topics=_items(row.get("preferences_forbidden_topics")),
        emoji_usage=_text(row.get("preferences_emoji_usage"), MAX_SHORT_TEXT_CHARS),
        message_style=_text(row.get("interactions_message_style"), MAX_SHORT_TEXT_CHARS),
        appearance=appearance,
    )


def _text(value: object, limit: int) -> str | None:
    if value is None:
        return None
    text = str(value).strip()[:limit].rstrip()
    return text or None


def _items(value: object) -> list[str]:
    """List items from a Postgres array, a `{a,b}` array literal or separated text."""
    if value is None:
        return []
    if isinstance(value, list | tuple):
        raw_items = [str(item) for item in value if item is not None]
    else:
        text = str(value).strip()
        if text.startswith("{") and text.endswith("}"):
            text = text[1:-1]
        raw_items = _LIST_SEPARATORS.split(text)
    items: list[str] = []
    for raw in raw_items:
        item = _text(raw.strip().strip('"'), MAX_LIST_ITEM_CHARS)
        if item is not None and item not in items:
            items.append(item)
    return items[:MAX_LIST_ITEMS]
