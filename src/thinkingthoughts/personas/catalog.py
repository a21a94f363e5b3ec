"""The trait catalog: slider dimensions read from a TOML data file, and level checks.

The bundled `traits.toml` holds the shipped dimensions; operators point the gateway at
their own copy to reword or add dimensions without touching code.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from types import MappingProxyType
from typing import Any

from thinkingthoughts.errors import TraitLevelError, UnknownTraitError

MIN_TRAIT_LEVEL = 1
MAX_TRAIT_LEVEL = 5
LEVEL_COUNT = MAX_TRAIT_LEVEL - MIN_TRAIT_LEVEL + 1
DEFAULT_TRAIT_LEVEL = 3
FALLBACK_LOCALE = "en"
TRAIT_ID_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")

BUNDLED_CATALOG_FILE = "traits.toml"
_TEXT_KEYS = ("label", "low", "high")
_DIMENSION_KEYS = frozenset({"id", *_TEXT_KEYS, "levels"})
_CATALOG_KEYS = frozenset({"locales", "dimension"})


@dataclass(frozen=True, slots=True)
class TraitDimension:
    """One slider: its label, what its ends mean, and one instruction per level and locale."""

    id: str
    label: Mapping[str, str]
    low: Mapping[str, str]
    high: Mapping[str, str]
    levels: Mapping[str, tuple[str, ...]]

    def instruction(self, level: int, locale: str) -> str:
        """The sentence for `level` in `locale`, or in English when `locale` is missing."""
        sentences = self.levels.get(locale) or self.levels[FALLBACK_LOCALE]
        return sentences[level - MIN_TRAIT_LEVEL]


@dataclass(frozen=True, slots=True)
class TraitCatalog:
    """The dimensions in the order their instructions appear in prompts."""

    dimensions: tuple[TraitDimension, ...]
    locales: tuple[str, ...]
    default_level: int = DEFAULT_TRAIT_LEVEL
    _by_id: Mapping[str, TraitDimension] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_id = MappingProxyType({dimension.id: dimension for dimension in self.dimensions})
        object.__setattr__(self, "_by_id", by_id)

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(dimension.id for dimension in self.dimensions)

    def get(self, trait_id: str) -> TraitDimension | None:
        return self._by_id.get(trait_id)

    def __contains__(self, trait_id: object) -> bool:
        return trait_id in self._by_id


TRAIT_ID_TITLE = "TraitId"
"""Title of the published schema of a trait id. Its ids are the running catalog's (an
operator's TT_TRAITS_FILE), which only the app knows: it adds them (`publish_trait_ids`)."""
TRAIT_MAP_SCHEMA: dict[str, Any] = {
    "type": "object",
    "propertyNames": {"title": TRAIT_ID_TITLE, "type": "string"},
    "additionalProperties": {
        "type": "integer",
        "minimum": MIN_TRAIT_LEVEL,
        "maximum": MAX_TRAIT_LEVEL,
    },
}
"""The published schema of levels by trait id: what `validate_trait_levels` accepts."""


def publish_trait_ids(fragment: Any, catalog: TraitCatalog) -> None:
    """Give every trait id schema (titled `TRAIT_ID_TITLE`) in a JSON Schema or OpenAPI
    fragment the catalog's ids as its enum, in place."""
    if isinstance(fragment, list):
        for item in fragment:
            publish_trait_ids(item, catalog)
    elif isinstance(fragment, dict):
        if fragment.get("title") == TRAIT_ID_TITLE:
            fragment.pop("pattern", None)  # the ids say more
            fragment["enum"] = list(catalog.ids)
        for value in fragment.values():
            publish_trait_ids(value, catalog)


def load_trait_catalog(path: Path | None = None) -> TraitCatalog:
    """Read and check the catalog file at `path`, or the bundled one when `path` is None.

    Raises ValueError naming the file and the faulty dimension when the file is invalid.
    """
    if path is None:
        source = f"bundled {BUNDLED_CATALOG_FILE}"
        text = files("thinkingthoughts.personas").joinpath(BUNDLED_CATALOG_FILE).read_text("utf-8")
    else:
        source = str(path)
        text = path.read_text(encoding="utf-8")
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"trait catalog {source}: not valid TOML: {exc}") from exc
    try:
        return parse_trait_catalog(document)
    except ValueError as exc:
        raise ValueError(f"trait catalog {source}: {exc}") from exc


def parse_trait_catalog(document: Mapping[str, Any]) -> TraitCatalog:
    """Build a catalog from a parsed TOML document, checking every dimension and locale."""
    unknown = sorted(set(document) - _CATALOG_KEYS)
    if unknown:
        raise ValueError(f"unknown top-level keys {unknown}; expected 'locales' and 'dimension'")
    locales = _parse_locales(document.get("locales"))
    raw_dimensions = document.get("dimension")
    if not isinstance(raw_dimensions, list) or not raw_dimensions:
        raise ValueError("no dimensions: add at least one [[dimension]] table")
    dimensions: list[TraitDimension] = []
    seen: set[str] = set()
    for position, raw in enumerate(raw_dimensions, start=1):
        dimension = _parse_dimension(raw, locales, position)
        if dimension.id in seen:
            raise ValueError(f"dimension '{dimension.id}' is defined twice")
        seen.add(dimension.id)
        dimensions.append(dimension)
    return TraitCatalog(dimensions=tuple(dimensions), locales=locales)


def _parse_locales(raw: object) -> tuple[str, ...]:
    if not isinstance(raw, list) or not all(isinstance(item, str) and item for item in raw):
        raise ValueError('\'locales\' must be a list of locale codes, such as ["en", "fr"]')
    if len(set(raw)) != len(raw):
        raise ValueError(f"'locales' lists a locale twice: {raw}")
    if FALLBACK_LOCALE not in raw:
        raise ValueError(f"'locales' must include '{FALLBACK_LOCALE}', the fallback locale")
    return tuple(raw)


def _parse_dimension(raw: object, locales: tuple[str, ...], position: int) -> TraitDimension:
    if not isinstance(raw, Mapping):
        raise ValueError(f"dimension #{position} must be a table")
    trait_id = raw.get("id")
    if not isinstance(trait_id, str) or not TRAIT_ID_PATTERN.fullmatch(trait_id):
        raise ValueError(
            f"dimension #{position}: id {trait_id!r} must match {TRAIT_ID_PATTERN.pattern}"
        )
    where = f"dimension '{trait_id}'"
    unknown = sorted(set(raw) - _DIMENSION_KEYS)
    if unknown:
        raise ValueError(f"{where}: unknown keys {unknown}")
    texts = {key: _parse_texts(raw.get(key), locales, f"{where}: {key}") for key in _TEXT_KEYS}
    return TraitDimension(
        id=trait_id,
        label=texts["label"],
        low=texts["low"],
        high=texts["high"],
        levels=_parse_levels(raw.get("levels"), locales, where),
    )


def _parse_texts(raw: object, locales: tuple[str, ...], where: str) -> Mapping[str, str]:
    per_locale = _per_locale(raw, locales, where)
    for locale, text in per_locale.items():
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"{where}.{locale} must be a non-empty string")
    return MappingProxyType({locale: str(per_locale[locale]).strip() for locale in locales})


def _parse_levels(
    raw: object, locales: tuple[str, ...], where: str
) -> Mapping[str, tuple[str, ...]]:
    per_locale = _per_locale(raw, locales, f"{where}: levels")
    levels: dict[str, tuple[str, ...]] = {}
    for locale in locales:
        sentences = per_locale[locale]
        if not isinstance(sentences, list) or len(sentences) != LEVEL_COUNT:
            found = len(sentences) if isinstance(sentences, list) else type(sentences).__name__
            raise ValueError(
                f"{where}: levels.{locale} must list exactly {LEVEL_COUNT} sentences "
                f"(levels {MIN_TRAIT_LEVEL} to {MAX_TRAIT_LEVEL}), found {found}"
            )
        for level, sentence in enumerate(sentences, start=MIN_TRAIT_LEVEL):
            if not isinstance(sentence, str) or not sentence.strip():
                raise ValueError(f"{where}: levels.{locale} level {level} is empty")
        levels[locale] = tuple(sentence.strip() for sentence in sentences)
    return MappingProxyType(levels)


def _per_locale(raw: object, locales: tuple[str, ...], where: str) -> Mapping[str, object]:
    if not isinstance(raw, Mapping):
        raise ValueError(f"{where} must be a table with one entry per locale {list(locales)}")
    missing = [locale for locale in locales if locale not in raw]
    if missing:
        raise ValueError(f"{where} is missing locales {missing}")
    undeclared = sorted(set(raw) - set(locales))
    if undeclared:
        raise ValueError(f"{where} has locales {undeclared} that 'locales' does not declare")
    return raw


def validate_trait_levels(catalog: TraitCatalog, levels: Mapping[str, object]) -> dict[str, int]:
    """Check requested levels against the catalog; returns them in catalog order.

    Raises UnknownTraitError for an id the catalog lacks and TraitLevelError for a level
    that is not an integer from 1 to 5 (a whole float such as 2.0 is one; booleans,
    strings and fractions are not).
    """
    valid: dict[str, int] = {}
    for trait_id, level in levels.items():
        if trait_id not in catalog:
            known = ", ".join(catalog.ids)
            raise UnknownTraitError(f"unknown trait '{trait_id}'; known traits: {known}")
        whole = _whole_level(level)
        if whole is None:
            raise TraitLevelError(
                f"trait '{trait_id}' level must be an integer from {MIN_TRAIT_LEVEL} "
                f"to {MAX_TRAIT_LEVEL}, got {level!r}"
            )
        valid[trait_id] = whole
    return {trait_id: valid[trait_id] for trait_id in catalog.ids if trait_id in valid}


def _whole_level(level: object) -> int | None:
    # An integer as JSON Schema counts them: 2.0 is the level 2; true and "2" are not levels.
    if isinstance(level, float) and level.is_integer():
        level = int(level)
    if isinstance(level, int) and not isinstance(level, bool):
        return level if MIN_TRAIT_LEVEL <= level <= MAX_TRAIT_LEVEL else None
    return None


def resolve_trait_levels(
    catalog: TraitCatalog,
    *,
    persona_defaults: Mapping[str, int],
    requested: Mapping[str, int],
) -> dict[str, int]:
    """The level of every catalog dimension, in catalog order, for one chat turn.

    Starts from the catalog's default level, overlaid by the persona's defaults, overlaid
    by the requested levels. Ids the catalog no longer has are ignored, so a persona saved
    before an operator removed a dimension keeps working.
    """
    resolved = dict.fromkeys(catalog.ids, catalog.default_level)
    for overlay in (persona_defaults, requested):
        for trait_id, level in overlay.items():
            if trait_id in resolved:
                resolved[trait_id] = level
    return resolved
