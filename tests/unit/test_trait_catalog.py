from __future__ import annotations

import copy
import re
import tomllib
from importlib.resources import as_file, files
from typing import Any

import pytest

from thinkingthoughts.errors import InvalidRequestError, TraitLevelError, UnknownTraitError
from thinkingthoughts.personas.catalog import (
    TraitCatalog,
    load_trait_catalog,
    parse_trait_catalog,
    resolve_trait_levels,
    validate_trait_levels,
)

ORIGINAL_IDS = (
    "tone",
    "emojis",
    "imperfection",
    "initiative",
    "vocabulary",
    "emotion",
    "audacity",
    "dominance",
    "sales_tactic",
)
BUNDLED_TEXT = files("thinkingthoughts.personas").joinpath("traits.toml").read_text("utf-8")
CATALOG = load_trait_catalog()


def bundled_document() -> dict[str, Any]:
    return tomllib.loads(BUNDLED_TEXT)


def test_bundled_catalog_keeps_the_original_ids_in_order() -> None:
    assert CATALOG.ids == ORIGINAL_IDS


def test_bundled_catalog_speaks_english_and_french() -> None:
    assert CATALOG.locales == ("en", "fr")


def test_every_dimension_has_texts_and_five_levels_per_locale() -> None:
    for dimension in CATALOG.dimensions:
        for locale in CATALOG.locales:
            assert dimension.label[locale]
            assert dimension.low[locale]
            assert dimension.high[locale]
            assert len(dimension.levels[locale]) == 5
            assert len(set(dimension.levels[locale])) == 5


def test_default_level_is_the_middle_one() -> None:
    assert CATALOG.default_level == 3


def test_catalog_loaded_from_a_path_equals_the_bundled_one() -> None:
    with as_file(files("thinkingthoughts.personas").joinpath("traits.toml")) as path:
        assert load_trait_catalog(path) == CATALOG


def test_lookup_by_id() -> None:
    emojis = CATALOG.get("emojis")
    assert emojis is not None
    assert emojis.label["fr"] == "Emojis"
    assert CATALOG.get("charm") is None
    assert "emojis" in CATALOG
    assert "charm" not in CATALOG


@pytest.mark.parametrize(
    ("trait_id", "en_label"),
    [
        ("audacity", "Directness"),
        ("dominance", "Assertiveness"),
        ("sales_tactic", "Recommendations"),
    ],
)
def test_legacy_ids_carry_their_plain_meaning(trait_id: str, en_label: str) -> None:
    dimension = CATALOG.get(trait_id)
    assert dimension is not None
    assert dimension.label["en"] == en_label


def test_instruction_picks_level_and_locale() -> None:
    tone = CATALOG.get("tone")
    assert tone is not None
    assert tone.instruction(1, "en") == tone.levels["en"][0]
    assert tone.instruction(5, "fr") == tone.levels["fr"][4]
    assert tone.instruction(2, "de") == tone.levels["en"][1]


def test_highest_sales_level_stays_honest_and_without_pressure() -> None:
    sales = CATALOG.get("sales_tactic")
    assert sales is not None
    assert "recommendation" in sales.levels["en"][4]
    assert "never pressure" in sales.levels["en"][4]
    assert "ne fais jamais pression" in sales.levels["fr"][4]


@pytest.mark.parametrize(
    "word", ["sexy", "sexual", "flirt", "seduc", "manipulat", "guilt", "urgent", "scarcity"]
)
def test_catalog_wording_suits_any_audience(word: str) -> None:
    texts = [
        text
        for dimension in CATALOG.dimensions
        for locale in CATALOG.locales
        for text in (
            dimension.label[locale],
            dimension.low[locale],
            dimension.high[locale],
            *dimension.levels[locale],
        )
    ]
    assert all(word not in text.lower() for text in texts)


def test_operator_can_add_a_dimension_without_code() -> None:
    document = bundled_document()
    document["dimension"].append(
        {
            "id": "storytelling",
            "label": {"en": "Storytelling", "fr": "Narration"},
            "low": {"en": "plain facts", "fr": "faits bruts"},
            "high": {"en": "vivid stories", "fr": "récits vivants"},
            "levels": {"en": list("ABCDE"), "fr": list("VWXYZ")},
        }
    )
    catalog = parse_trait_catalog(document)
    assert catalog.ids == (*ORIGINAL_IDS, "storytelling")


def broken(change: str) -> dict[str, Any]:
    """The bundled document with one mistake an operator could make."""
    document = copy.deepcopy(bundled_document())
    emojis = document["dimension"][1]
    match change:
        case "four levels":
            emojis["levels"]["fr"] = emojis["levels"]["fr"][:4]
        case "empty level":
            emojis["levels"]["en"][2] = "  "
        case "missing levels":
            del emojis["levels"]
        case "missing locale":
            del emojis["label"]["fr"]
        case "undeclared locale":
            emojis["high"]["de"] = "viele"
        case "bad id":
            emojis["id"] = "Emojis-Count"
        case "duplicate id":
            emojis["id"] = "tone"
        case "unknown key":
            emojis["colour"] = "blue"
        case "empty label":
            emojis["label"]["en"] = ""
        case "no english":
            document["locales"] = ["fr"]
        case "no dimensions":
            document["dimension"] = []
        case "unknown top-level key":
            document["dimensions"] = document.pop("dimension")
    return document


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("four levels", "dimension 'emojis': levels.fr must list exactly 5 sentences"),
        ("empty level", "dimension 'emojis': levels.en level 3 is empty"),
        ("missing levels", "dimension 'emojis': levels must be a table"),
        ("missing locale", "dimension 'emojis': label is missing locales ['fr']"),
        ("undeclared locale", "dimension 'emojis': high has locales ['de']"),
        ("bad id", "dimension #2: id 'Emojis-Count' must match"),
        ("duplicate id", "dimension 'tone' is defined twice"),
        ("unknown key", "dimension 'emojis': unknown keys ['colour']"),
        ("empty label", "dimension 'emojis': label.en must be a non-empty string"),
        ("no english", "'locales' must include 'en'"),
        ("no dimensions", "no dimensions"),
        ("unknown top-level key", "unknown top-level keys ['dimensions']"),
    ],
)
def test_invalid_catalog_is_rejected_naming_the_problem(change: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_trait_catalog(broken(change))


def test_valid_levels_come_back_in_catalog_order() -> None:
    assert validate_trait_levels(CATALOG, {"sales_tactic": 5, "tone": 1}) == {
        "tone": 1,
        "sales_tactic": 5,
    }


def test_no_levels_is_valid() -> None:
    assert validate_trait_levels(CATALOG, {}) == {}


def test_unknown_trait_names_it_and_lists_known_ones() -> None:
    with pytest.raises(UnknownTraitError) as caught:
        validate_trait_levels(CATALOG, {"tone": 2, "charm": 3})
    assert "'charm'" in caught.value.message
    assert ", ".join(ORIGINAL_IDS) in caught.value.message
    assert caught.value.code == "unknown_trait"
    assert isinstance(caught.value, InvalidRequestError)


def test_a_whole_float_level_is_the_integer_it_holds() -> None:
    assert validate_trait_levels(CATALOG, {"emotion": 3.0}) == {"emotion": 3}


@pytest.mark.parametrize("level", [0, 6, -1, True, False, 6.0, 2.5, "3", None, [3]])
def test_level_must_be_an_integer_from_one_to_five(level: object) -> None:
    with pytest.raises(TraitLevelError) as caught:
        validate_trait_levels(CATALOG, {"emotion": level})
    assert "'emotion'" in caught.value.message
    assert caught.value.code == "invalid_trait_level"


@pytest.mark.parametrize(
    ("persona_defaults", "requested", "expected_changes"),
    [
        ({}, {}, {}),
        ({"tone": 5}, {}, {"tone": 5}),
        ({}, {"emojis": 1}, {"emojis": 1}),
        ({"tone": 5, "emojis": 4}, {"tone": 2}, {"tone": 2, "emojis": 4}),
        ({"retired_trait": 5}, {}, {}),
        ({}, {"retired_trait": 5}, {}),
    ],
)
def test_resolution_layers_default_persona_and_request(
    persona_defaults: dict[str, int], requested: dict[str, int], expected_changes: dict[str, int]
) -> None:
    resolved = resolve_trait_levels(CATALOG, persona_defaults=persona_defaults, requested=requested)
    assert tuple(resolved) == CATALOG.ids
    assert resolved == {trait_id: 3 for trait_id in CATALOG.ids} | expected_changes


def test_resolution_uses_the_catalog_default_level() -> None:
    catalog = TraitCatalog(dimensions=CATALOG.dimensions, locales=CATALOG.locales, default_level=1)
    resolved = resolve_trait_levels(catalog, persona_defaults={}, requested={})
    assert set(resolved.values()) == {1}
