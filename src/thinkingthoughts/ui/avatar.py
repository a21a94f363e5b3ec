"""A persona's avatar: the sheet's `appearance.avatar` if it is usable, else an initial. Pure."""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

MAX_SYMBOL_CHARS = 8
_IMAGE_PREFIXES = ("https://", "http://", "data:image/")
_JOINERS = {"\u200d", "\ufe0f", "\ufe0e", "\u20e3"}


@dataclass(frozen=True)
class Avatar:
    kind: Literal["image", "symbol", "letter"]
    value: str


def persona_avatar(persona: Mapping[str, Any]) -> Avatar:
    """An image URL, an emoji, or the first letter of the persona's name."""
    appearance = persona.get("appearance")
    given = appearance.get("avatar") if isinstance(appearance, Mapping) else None
    if isinstance(given, str):
        given = given.strip()
        if given.lower().startswith(_IMAGE_PREFIXES):
            return Avatar("image", given)
        if is_symbol(given):
            return Avatar("symbol", given)
    return Avatar("letter", initial(str(persona.get("name") or persona.get("slug") or "?")))


def initial(name: str) -> str:
    for character in name.strip():
        if character.isalnum():
            return character.upper()
    return "?"


def is_symbol(text: str) -> bool:
    """A short run of pictographs (an emoji, possibly joined), not words."""
    if not text or len(text) > MAX_SYMBOL_CHARS:
        return False
    pictographs = [c for c in text if c not in _JOINERS]
    return bool(pictographs) and all(
        unicodedata.category(c) in ("So", "Sk") or 0x1F3FB <= ord(c) <= 0x1F3FF for c in pictographs
    )
