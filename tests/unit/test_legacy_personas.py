from __future__ import annotations

from typing import Any

import pytest

from thinkingthoughts.personas.legacy import legacy_row_to_sheet

FULL_ROW: dict[str, Any] = {
    "id": 7,
    "name": "Séline Dupont",
    "base_prompt": "  A witty, warm companion.  ",
    "age": 27,
    "personality_tone": "warm",
    "personality_humor": "puns",
    "personality_favorite_expressions": ["Plot twist!", "Tell me more."],
    "preferences_interests": "books, films; astronomy",
    "preferences_forbidden_topics": None,
    "preferences_emoji_usage": "rare",
    "interactions_message_style": "short",
    "gender": "female",
    "race": "Mediterranean",
    "eye_color": "green",
    "hair_color": "",
    "hair_type": "curly",
}


def row(**changes: Any) -> dict[str, Any]:
    return {**FULL_ROW, **changes}


def test_full_row_maps_every_column() -> None:
    sheet = legacy_row_to_sheet(FULL_ROW)
    assert sheet.model_dump() == {
        "name": "Séline Dupont",
        "slug": "seline-dupont",
        "base_prompt": "A witty, warm companion.",
        "greeting": None,
        "age": "27",
        "tone": "warm",
        "humor": "puns",
        "favorite_expressions": ["Plot twist!", "Tell me more."],
        "interests": ["books", "films", "astronomy"],
        "forbidden_topics": [],
        "emoji_usage": "rare",
        "message_style": "short",
        "appearance": {
            "gender": "female",
            "ethnicity": "Mediterranean",
            "eye_color": "green",
            "hair_type": "curly",
        },
        "example_dialogue": None,
        "default_traits": {},
        "locale": "en",
    }


@pytest.mark.parametrize(
    ("value", "items"),
    [
        (None, []),
        ([], []),
        (["books", None, " films ", ""], ["books", "films"]),
        (("books", "films"), ["books", "films"]),
        ("books, films", ["books", "films"]),
        ("books;films ; ;", ["books", "films"]),
        ("books\nfilms", ["books", "films"]),
        ('{books,"science fiction"}', ["books", "science fiction"]),
        ("{}", []),
        ("", []),
        ("books, books, Books", ["books", "Books"]),
        (["x" * 250], ["x" * 200]),
        ([f"topic {n}" for n in range(60)], [f"topic {n}" for n in range(50)]),
    ],
)
def test_list_columns_accept_arrays_and_separated_text(value: object, items: list[str]) -> None:
    sheet = legacy_row_to_sheet(row(preferences_interests=value))
    assert sheet.interests == items


@pytest.mark.parametrize(
    ("column", "value", "field", "expected"),
    [
        ("age", 27, "age", "27"),
        ("age", "about thirty", "age", "about thirty"),
        ("age", "", "age", None),
        ("age", None, "age", None),
        ("age", "x" * 80, "age", "x" * 50),
        ("personality_tone", None, "tone", None),
        ("personality_tone", "   ", "tone", None),
        ("personality_tone", "t" * 600, "tone", "t" * 500),
        ("personality_humor", "h" * 600, "humor", "h" * 500),
        ("preferences_emoji_usage", 3, "emoji_usage", "3"),
        ("interactions_message_style", "m" * 501, "message_style", "m" * 500),
        ("base_prompt", None, "base_prompt", ""),
        ("base_prompt", "p" * 9000, "base_prompt", "p" * 8000),
        ("name", "n" * 150, "name", "n" * 100),
    ],
)
def test_text_columns_drop_blanks_and_cut_overlong_values(
    column: str, value: object, field: str, expected: str | None
) -> None:
    assert getattr(legacy_row_to_sheet(row(**{column: value})), field) == expected


NO_APPEARANCE = dict.fromkeys(["gender", "race", "eye_color", "hair_color", "hair_type"])


@pytest.mark.parametrize(
    ("columns", "appearance"),
    [
        ({}, {}),
        ({"race": " ", "hair_color": ""}, {}),
        ({"hair_color": "auburn"}, {"hair_color": "auburn"}),
        ({"race": "Mediterranean"}, {"ethnicity": "Mediterranean"}),
        ({"gender": "g" * 300}, {"gender": "g" * 200}),
        (
            {"gender": "male", "eye_color": "brown", "hair_type": "wavy"},
            {"gender": "male", "eye_color": "brown", "hair_type": "wavy"},
        ),
    ],
)
def test_appearance_keeps_only_filled_columns(
    columns: dict[str, Any], appearance: dict[str, str]
) -> None:
    assert legacy_row_to_sheet(row(**NO_APPEARANCE | columns)).appearance == appearance


@pytest.mark.parametrize(
    ("name", "taken", "slug"),
    [
        ("Seline", (), "seline"),
        ("Seline", {"seline"}, "seline-2"),
        ("Seline", {"seline", "seline-2"}, "seline-3"),
        ("Ça va", (), "ca-va"),
        ("***", (), "persona"),
    ],
)
def test_slug_comes_from_the_name_and_is_unique(
    name: str, taken: set[str] | tuple[str, ...], slug: str
) -> None:
    assert legacy_row_to_sheet(row(name=name), taken_slugs=taken).slug == slug


@pytest.mark.parametrize(
    ("changes", "name", "slug"),
    [
        ({"name": None, "id": 12}, "Persona 12", "persona-12"),
        ({"name": "  ", "id": None}, "Persona", "persona"),
    ],
)
def test_row_without_a_name_gets_a_placeholder(
    changes: dict[str, Any], name: str, slug: str
) -> None:
    sheet = legacy_row_to_sheet(row(**changes))
    assert (sheet.name, sheet.slug) == (name, slug)


def test_row_with_only_a_name_gives_a_minimal_sheet() -> None:
    sheet = legacy_row_to_sheet({"name": "Nova"})
    assert sheet.slug == "nova"
    assert sheet.appearance == {}
    assert sheet.interests == []
    assert sheet.age is None
