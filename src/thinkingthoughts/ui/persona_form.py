"""A persona sheet as form fields and back. Pure.

Lists are edited one item per line, `appearance` one `key: value` per line; the sheet sent
back holds every field, with blank optional texts as null.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

OPTIONAL_TEXT_FIELDS = (
    "greeting",
    "age",
    "tone",
    "humor",
    "emoji_usage",
    "message_style",
    "example_dialogue",
)
TEXT_FIELDS = ("name", "slug", "base_prompt", *OPTIONAL_TEXT_FIELDS)
LIST_FIELDS = ("favorite_expressions", "interests", "forbidden_topics")
LOCALES = ("en", "fr")
MAX_SLUG_CHARS = 63
_LIGATURES = str.maketrans(
    {"æ": "ae", "Æ": "AE", "œ": "oe", "Œ": "OE", "ß": "ss", "ø": "o", "Ø": "O", "ł": "l"}
)


@dataclass
class SheetDraft:
    """What a form produced: the sheet to send, or the problems to fix first."""

    sheet: dict[str, Any] = field(default_factory=dict)
    missing_name: bool = False
    bad_appearance_lines: list[str] = field(default_factory=list)

    @property
    def ready(self) -> bool:
        return not self.missing_name and not self.bad_appearance_lines


def form_values(persona: Mapping[str, Any] | None) -> dict[str, str]:
    """The text of every form field for a stored persona (empty for a new one)."""
    persona = persona or {}
    values = {name: _text(persona.get(name)) for name in TEXT_FIELDS}
    for name in LIST_FIELDS:
        values[name] = "\n".join(str(item) for item in persona.get(name) or [])
    appearance = persona.get("appearance") or {}
    values["appearance"] = appearance_text(appearance if isinstance(appearance, Mapping) else {})
    locale = persona.get("locale")
    values["locale"] = locale if locale in LOCALES else LOCALES[0]
    return values


def sheet_from_form(values: Mapping[str, str], default_traits: Mapping[str, int]) -> SheetDraft:
    """The sheet for `POST`/`PUT /api/personas`, and what must be fixed before sending it."""
    draft = SheetDraft()
    for name in TEXT_FIELDS:
        text = values.get(name, "").strip()
        draft.sheet[name] = (text or None) if name in OPTIONAL_TEXT_FIELDS else text
    draft.missing_name = not draft.sheet["name"]
    if not draft.sheet["slug"]:
        draft.sheet["slug"] = suggest_slug(draft.sheet["name"] or "")
    for name in LIST_FIELDS:
        draft.sheet[name] = lines(values.get(name, ""))
    draft.sheet["appearance"], draft.bad_appearance_lines = parse_appearance(
        values.get("appearance", "")
    )
    draft.sheet["default_traits"] = dict(default_traits)
    locale = values.get("locale", LOCALES[0])
    draft.sheet["locale"] = locale if locale in LOCALES else LOCALES[0]
    return draft


def lines(text: str) -> list[str]:
    """Non-blank lines, trimmed."""
    return [line.strip() for line in text.splitlines() if line.strip()]


def appearance_text(appearance: Mapping[str, Any]) -> str:
    return "\n".join(f"{key}: {value}" for key, value in appearance.items())


def parse_appearance(text: str) -> tuple[dict[str, str], list[str]]:
    """`key: value` lines as a mapping, and the lines that are not of that form."""
    parsed: dict[str, str] = {}
    bad: list[str] = []
    for line in lines(text):
        key, colon, value = line.partition(":")
        if not colon or not key.strip() or not value.strip():
            bad.append(line)
            continue
        parsed[key.strip()] = value.strip()
    return parsed, bad


def chosen_default_traits(
    levels: Mapping[str, int], stored: Mapping[str, Any], catalog_default: int
) -> dict[str, int]:
    """The sliders worth storing as the persona's defaults: those it had already and those
    moved away from the catalog's default level (an untouched slider stays unset)."""
    return {
        trait_id: level
        for trait_id, level in levels.items()
        if trait_id in stored or level != catalog_default
    }


def suggest_slug(name: str) -> str:
    """A slug the gateway accepts, made from a name ("Séline" → "seline")."""
    folded = (
        unicodedata.normalize("NFKD", name.translate(_LIGATURES))
        .encode("ascii", "ignore")
        .decode("ascii")
    )
    slug = re.sub(r"[^a-z0-9]+", "-", folded.lower()).strip("-")
    return slug[:MAX_SLUG_CHARS].rstrip("-")


def _text(value: object) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else str(value)
