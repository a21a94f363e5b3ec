from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from thinkingthoughts.personas.sheet import PersonaSheet, slugify, unique_slug

FULL_SHEET: dict[str, Any] = {
    "name": "Seline",
    "slug": "seline",
    "base_prompt": "A witty, warm companion.",
    "greeting": "Hi!",
    "age": "ageless",
    "tone": "warm",
    "humor": "puns",
    "favorite_expressions": ["Plot twist!"],
    "interests": ["books"],
    "forbidden_topics": ["gambling tips"],
    "emoji_usage": "rare",
    "message_style": "short",
    "appearance": {"hair_color": "auburn"},
    "example_dialogue": "User: Hi\nSeline: Hello!",
    "default_traits": {"tone": 4},
    "locale": "fr",
}


def sheet(**fields: Any) -> PersonaSheet:
    return PersonaSheet.model_validate({"name": "Nova", "slug": "nova", **fields})


def test_json_field_names_are_the_documented_ones() -> None:
    assert list(PersonaSheet.model_fields) == list(FULL_SHEET)


def test_full_sheet_round_trips_through_json() -> None:
    parsed = PersonaSheet.model_validate(FULL_SHEET)
    assert parsed.model_dump(mode="json") == FULL_SHEET
    assert PersonaSheet.model_validate_json(parsed.model_dump_json()) == parsed


def test_minimal_sheet_has_empty_defaults() -> None:
    minimal = sheet()
    assert minimal.base_prompt == ""
    assert minimal.greeting is None
    assert minimal.interests == []
    assert minimal.appearance == {}
    assert minimal.default_traits == {}
    assert minimal.locale == "en"


def test_text_is_stripped() -> None:
    parsed = sheet(name="  Nova  ", tone=" calm ", interests=["  stars "])
    assert (parsed.name, parsed.tone, parsed.interests) == ("Nova", "calm", ["stars"])


@pytest.mark.parametrize("field", ["greeting", "age", "tone", "humor", "example_dialogue"])
def test_blank_optional_text_is_stored_as_missing(field: str) -> None:
    assert getattr(sheet(**{field: "   "}), field) is None


@pytest.mark.parametrize(("age", "stored"), [(42, "42"), ("ageless", "ageless"), (None, None)])
def test_age_is_free_text_and_accepts_numbers(age: object, stored: str | None) -> None:
    assert sheet(age=age).age == stored


@pytest.mark.parametrize(
    "fields",
    [
        {"name": ""},
        {"name": "   "},
        {"name": "x" * 101},
        {"age": True},
        {"age": "x" * 51},
        {"base_prompt": "x" * 8001},
        {"greeting": "x" * 2001},
        {"tone": "x" * 501},
        {"interests": [""]},
        {"interests": ["x" * 201]},
        {"forbidden_topics": ["topic"] * 51},
        {"appearance": {f"key{n}": "value" for n in range(21)}},
        {"appearance": {"hair_color": ""}},
        {"default_traits": {"tone": 0}},
        {"default_traits": {"tone": 6}},
        {"default_traits": {"tone": True}},
        {"default_traits": {"tone": 2.5}},
        {"default_traits": {"tone": "3"}},
        {"locale": "de"},
        {"nickname": "No"},
    ],
    ids=lambda fields: next(iter(fields)),
)
def test_invalid_field_is_rejected(fields: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        sheet(**fields)


def test_limits_are_inclusive() -> None:
    parsed = sheet(
        name="x" * 100,
        interests=["y" * 200] * 50,
        appearance={f"key{n}": "value" for n in range(20)},
        default_traits={"tone": 1, "emojis": 5},
    )
    assert len(parsed.interests) == 50


@pytest.mark.parametrize("slug", ["seline", "tutor-2", "0day", "a" * 63])
def test_valid_slug_is_accepted(slug: str) -> None:
    assert sheet(slug=slug).slug == slug


@pytest.mark.parametrize("slug", ["", "-seline", "Seline", "se_line", "sé", "a b", "a" * 64])
def test_invalid_slug_is_rejected(slug: str) -> None:
    with pytest.raises(ValidationError):
        sheet(slug=slug)


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("Seline", "seline"),
        ("Professor Ada", "professor-ada"),
        ("  Élodie  Ç. ", "elodie-c"),
        ("Cœur de Lion", "coeur-de-lion"),
        ("Straße_42!", "strasse-42"),
        ("--Hi--", "hi"),
        ("日本語", "persona"),
        ("", "persona"),
        ("a" * 70, "a" * 63),
        ("a" * 62 + " b", "a" * 62),
    ],
)
def test_slugify(name: str, slug: str) -> None:
    assert slugify(name) == slug


@pytest.mark.parametrize(
    ("base", "taken", "expected"),
    [
        ("seline", set(), "seline"),
        ("seline", {"seline"}, "seline-2"),
        ("seline", {"seline", "seline-2"}, "seline-3"),
        ("seline", {"seline-2"}, "seline"),
        ("a" * 63, {"a" * 63}, "a" * 61 + "-2"),
    ],
)
def test_unique_slug_counts_up_until_free(base: str, taken: set[str], expected: str) -> None:
    assert unique_slug(base, taken) == expected


def test_unique_slug_stays_a_valid_slug() -> None:
    base = "a" * 62 + "-"
    taken = {base, *(f"{'a' * 61}-{n}" for n in range(2, 10))}
    assert sheet(slug=unique_slug(base, taken)).slug == "a" * 60 + "-10"
