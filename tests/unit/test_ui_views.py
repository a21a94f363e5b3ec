"""The page's pure helpers: sliders, avatars, the sessions list, persona forms, usage."""

from __future__ import annotations

from typing import Any

from thinkingthoughts.ui.avatar import Avatar, initial, persona_avatar
from thinkingthoughts.ui.persona_form import (
    chosen_default_traits,
    form_values,
    parse_appearance,
    sheet_from_form,
    suggest_slug,
)
from thinkingthoughts.ui.session_list import (
    awaits_reply,
    clamp_page,
    page_count,
    regenerable,
    session_title,
    shown_messages,
    when,
)
from thinkingthoughts.ui.trait_sliders import default_levels, session_levels, trait_sliders
from thinkingthoughts.ui.usage_data import per_day, per_persona, report_rows, totals

CATALOG: dict[str, Any] = {
    "default_level": 3,
    "dimensions": [
        {
            "id": "tone",
            "label": {"en": "Tone", "fr": "Ton"},
            "low": {"en": "formal", "fr": "formel"},
            "high": {"en": "casual", "fr": "décontracté"},
        },
        {"id": "emojis", "label": {"en": "Emojis"}, "low": {"en": "none"}, "high": {"en": "many"}},
    ],
}


def test_sliders_are_labelled_in_the_pages_language_else_english() -> None:
    sliders = trait_sliders(CATALOG, "fr")
    assert [(s.id, s.label) for s in sliders] == [("tone", "Ton"), ("emojis", "Emojis")]
    assert sliders[0].help("1: {low} · 5: {high}") == "1: formel · 5: décontracté"
    assert sliders[1].help("1: {low} · 5: {high}") == "1: none · 5: many"


def test_slider_levels_start_at_the_personas_defaults_else_the_catalogs() -> None:
    assert default_levels(CATALOG, {"default_traits": {"tone": 5}}) == {"tone": 5, "emojis": 3}
    assert default_levels(CATALOG, None) == {"tone": 3, "emojis": 3}


def test_an_opened_session_brings_back_its_levels() -> None:
    persona = {"default_traits": {"tone": 5, "emojis": 4}}
    levels = session_levels(CATALOG, persona, {"emojis": 1, "unknown": 2})
    assert levels == {"tone": 5, "emojis": 1}


def test_avatar_is_the_sheets_image_or_emoji_else_the_initial() -> None:
    url = "https://example.org/ada.png"
    assert persona_avatar({"name": "Ada", "appearance": {"avatar": url}}) == Avatar("image", url)
    assert persona_avatar({"name": "Ada", "appearance": {"avatar": "🦉"}}) == Avatar("symbol", "🦉")
    described = {"name": "séline", "appearance": {"avatar": "curly red hair"}}
    assert persona_avatar(described) == Avatar("letter", "S")
    assert persona_avatar({"name": "Professor Ada"}) == Avatar("letter", "P")
    assert initial("  ") == "?"


def test_sessions_are_titled_dated_and_paged() -> None:
    assert session_title({"title": "  Rainy day "}, "Untitled") == "Rainy day"
    assert session_title({"title": None}, "Untitled") == "Untitled"
    assert when("2026-11-22T02:41:18.761598Z") == "2026-11-22 02:41"
    assert (page_count(0), page_count(10), page_count(11)) == (1, 1, 2)
    assert (clamp_page(5, 11), clamp_page(-1, 11)) == (1, 0)


def test_only_a_reply_to_the_user_can_be_regenerated() -> None:
    greeting = {"role": "assistant", "content": "Hello"}
    question = {"role": "user", "content": "Hi"}
    answer = {"role": "assistant", "content": "Yes?"}
    assert not regenerable([greeting])
    assert not regenerable([greeting, question])
    assert regenerable([greeting, question, answer])
    assert shown_messages([greeting, question, answer], regenerating=True) == [greeting, question]
    assert shown_messages([greeting, question, answer], regenerating=False) == [
        greeting,
        question,
        answer,
    ]
    assert awaits_reply([greeting, question])
    assert not awaits_reply([greeting, question, answer])


def test_a_sheet_becomes_form_text_and_comes_back_the_same() -> None:
    sheet: dict[str, Any] = {
        "name": "Captain Nemo",
        "slug": "nemo",
        "base_prompt": "A submarine captain.",
        "greeting": "Welcome aboard.",
        "age": "ageless",
        "tone": "calm",
        "humor": None,
        "favorite_expressions": ["Mobilis in mobili", "Full ahead"],
        "interests": ["oceans"],
        "forbidden_topics": ["politics"],
        "emoji_usage": None,
        "message_style": "short",
        "appearance": {"avatar": "🐙", "coat": "navy blue"},
        "example_dialogue": None,
        "default_traits": {"vocabulary": 5},
        "locale": "fr",
    }
    values = form_values(sheet)
    assert values["favorite_expressions"] == "Mobilis in mobili\nFull ahead"
    assert values["appearance"] == "avatar: 🐙\ncoat: navy blue"
    assert values["humor"] == ""
    draft = sheet_from_form(values, {"vocabulary": 5})
    assert draft.ready
    assert draft.sheet == sheet


def test_a_form_with_problems_is_not_ready() -> None:
    values = form_values(None)
    values["appearance"] = "eyes: green\njust words\n: no key"
    draft = sheet_from_form(values, {})
    assert draft.missing_name
    assert draft.bad_appearance_lines == ["just words", ": no key"]
    assert not draft.ready


def test_a_missing_slug_is_made_from_the_name() -> None:
    values = form_values(None) | {"name": "Séline Dupré-Ærø"}
    assert sheet_from_form(values, {}).sheet["slug"] == "seline-dupre-aero"
    assert suggest_slug("  Über Coach!! ") == "uber-coach"


def test_appearance_lines_split_at_the_first_colon() -> None:
    assert parse_appearance("site: https://x.org\n\n") == ({"site": "https://x.org"}, [])


def test_untouched_default_sliders_stay_unset() -> None:
    levels = {"tone": 3, "emojis": 4, "emotion": 3}
    assert chosen_default_traits(levels, {"emotion": 3}, 3) == {"emojis": 4, "emotion": 3}


def test_usage_rows_of_several_keys_add_up_per_day_and_persona() -> None:
    first = {
        "rows": [
            {"day": "2026-11-21", "persona": "tutor", "requests": 2, "prompt_tokens": 10,
             "completion_tokens": 5, "total_tokens": 15},
            {"day": "2026-11-22", "persona": None, "requests": 1, "prompt_tokens": 4,
             "completion_tokens": 1, "total_tokens": 5},
        ]
    }  # fmt: skip
    second = {
        "rows": [
            {"day": "2026-11-22", "persona": "tutor", "requests": 3, "prompt_tokens": 20,
             "completion_tokens": 10, "total_tokens": 30},
        ]
    }  # fmt: skip
    rows = report_rows([first, second])
    assert totals(rows) == {
        "requests": 6,
        "prompt_tokens": 34,
        "completion_tokens": 16,
        "total_tokens": 50,
    }
    daily = per_day(rows)
    assert daily["day"] == ["2026-11-21", "2026-11-22"]
    assert daily["requests"] == [2, 4]
    assert daily["total_tokens"] == [15, 35]
    personas = per_persona(rows, "(no persona)")
    assert personas["persona"] == ["tutor", "(no persona)"]
    assert personas["requests"] == [5, 1]
