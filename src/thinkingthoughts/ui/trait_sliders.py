"""The trait sliders, built from the gateway's catalog (`GET /api/traits`). Pure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

MIN_LEVEL = 1
MAX_LEVEL = 5
FALLBACK_LEVEL = 3


@dataclass(frozen=True)
class TraitSlider:
    id: str
    label: str
    low: str
    high: str

    def help(self, template: str) -> str:
        """What 1 and 5 mean, with a template such as "1: {low} · 5: {high}"."""
        return template.format(low=self.low, high=self.high)


def _in_language(values: object, language: str, fallback: str) -> str:
    if isinstance(values, Mapping):
        for locale in (language, "en"):
            text = values.get(locale)
            if isinstance(text, str) and text.strip():
                return text
        for text in values.values():
            if isinstance(text, str) and text.strip():
                return text
    return fallback


def trait_sliders(catalog: Mapping[str, Any], language: str) -> list[TraitSlider]:
    """One slider per dimension of the catalog, labelled in `language` (else English)."""
    sliders = []
    for dimension in catalog.get("dimensions") or []:
        if not isinstance(dimension, Mapping) or not isinstance(dimension.get("id"), str):
            continue
        trait_id = dimension["id"]
        sliders.append(
            TraitSlider(
                id=trait_id,
                label=_in_language(dimension.get("label"), language, trait_id),
                low=_in_language(dimension.get("low"), language, str(MIN_LEVEL)),
                high=_in_language(dimension.get("high"), language, str(MAX_LEVEL)),
            )
        )
    return sliders


def catalog_default(catalog: Mapping[str, Any]) -> int:
    level = catalog.get("default_level")
    return _level(level) if level is not None else FALLBACK_LEVEL


def default_levels(catalog: Mapping[str, Any], persona: Mapping[str, Any] | None) -> dict[str, int]:
    """Every slider's starting level: the persona's `default_traits`, else the catalog's."""
    fallback = catalog_default(catalog)
    own = (persona or {}).get("default_traits") or {}
    return {
        slider.id: _level(own.get(slider.id, fallback)) if isinstance(own, Mapping) else fallback
        for slider in trait_sliders(catalog, "en")
    }


def session_levels(
    catalog: Mapping[str, Any], persona: Mapping[str, Any] | None, stored: Mapping[str, Any]
) -> dict[str, int]:
    """The levels of an opened session: what it stored, the persona's defaults elsewhere."""
    levels = default_levels(catalog, persona)
    for trait_id, level in stored.items():
        if trait_id in levels:
            levels[trait_id] = _level(level)
    return levels


def _level(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return FALLBACK_LEVEL
    return max(MIN_LEVEL, min(MAX_LEVEL, int(value)))
