"""The system-prompt compiler and the operator policy it opens with.

Golden files under `golden/` hold the exact expected prompts. After an intended change
of wording, regenerate them with `UPDATE_GOLDEN=1 pytest tests/unit/test_compiler.py`
and review the diff before committing.
"""

from __future__ import annotations

import os
import re
import tomllib
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest

from thinkingthoughts.personas.catalog import (
    TraitCatalog,
    load_trait_catalog,
    parse_trait_catalog,
    resolve_trait_levels,
)
from thinkingthoughts.personas.compiler import compile_system_prompt
from thinkingthoughts.personas.policy import (
    DEFAULT_OPERATOR_POLICY,
    default_operator_policy,
    load_operator_policy,
)
from thinkingthoughts.personas.sheet import PersonaSheet

GOLDEN_DIR = Path(__file__).parent / "golden"
CUSTOM_POLICY_FILE = GOLDEN_DIR / "operator_policy_input.txt"
UPDATE_GOLDEN = os.environ.get("UPDATE_GOLDEN") == "1"
PERSONA_LINE = re.compile(r"(?:You are|Tu es) (.+?)\.")

CATALOG = load_trait_catalog()

SELINE = PersonaSheet(
    name="Seline",
    slug="seline",
    base_prompt=(
        "Seline is a witty, warm conversational companion who loves good conversation.\n"
        "She listens closely and brings a light touch of humor."
    ),
    greeting="Hi, I'm Seline! What's on your mind?",
    tone="warm and witty",
    humor="light wordplay",
    favorite_expressions=["Ooh, tell me more.", "Plot twist!"],
    interests=["books", "films", "astronomy"],
    forbidden_topics=["partisan politics", "gambling tips"],
    emoji_usage="an occasional emoji",
    message_style="short, lively messages",
    example_dialogue="User: I finished the book.\nSeline: Ooh, tell me more!",
    default_traits={"tone": 4, "emojis": 3, "initiative": 4},
)

CONCIERGE = PersonaSheet(
    name="Theo",
    slug="concierge",
    base_prompt="Theo is the concierge of an online shop and compares options honestly.",
    tone="courteous and straightforward",
    interests=["product details", "gift ideas"],
    forbidden_topics=["payment card numbers or passwords"],
    default_traits={"sales_tactic": 4},
)

CAMILLE_FR = PersonaSheet(
    name="Camille",
    slug="camille",
    base_prompt="Camille est une guide de musée passionnée d'histoire de l'art.",
    age="34",
    tone="chaleureux et précis",
    humor="pince-sans-rire",
    favorite_expressions=["Regardez ce détail !", "Voyons cela."],
    interests=["peinture", "architecture", "jardins"],
    forbidden_topics=["politique partisane"],
    emoji_usage="presque jamais",
    message_style="phrases courtes et imagées",
    appearance={"hair_color": "châtain", "eye_color": "verts", "style": "foulard coloré"},
    example_dialogue="Utilisateur : Qui a peint ce tableau ?\nCamille : Regardez ce détail !",
    default_traits={"vocabulary": 4, "emotion": 2},
    locale="fr",
)

MINIMAL = PersonaSheet(name="Nova", slug="nova")


def levels_for(sheet: PersonaSheet, **requested: int) -> dict[str, int]:
    return resolve_trait_levels(CATALOG, persona_defaults=sheet.default_traits, requested=requested)


def compile_with_default_policy(sheet: PersonaSheet, levels: dict[str, int]) -> str:
    return compile_system_prompt(
        sheet=sheet,
        trait_levels=levels,
        catalog=CATALOG,
        policy=default_operator_policy(sheet.locale),
    )


GOLDEN_CASES: dict[str, tuple[PersonaSheet, dict[str, int], str]] = {
    "seline_defaults_en": (SELINE, levels_for(SELINE), default_operator_policy("en")),
    "concierge_sliders_en": (
        CONCIERGE,
        levels_for(CONCIERGE, sales_tactic=5, emojis=1, audacity=5, dominance=1),
        default_operator_policy("en"),
    ),
    "camille_full_sheet_fr": (CAMILLE_FR, levels_for(CAMILLE_FR), default_operator_policy("fr")),
    "minimal_sheet_custom_policy_en": (
        MINIMAL,
        levels_for(MINIMAL),
        load_operator_policy(CUSTOM_POLICY_FILE, "en"),
    ),
}


@pytest.mark.parametrize("case", sorted(GOLDEN_CASES))
def test_compiled_prompt_matches_golden_file(case: str) -> None:
    sheet, levels, policy = GOLDEN_CASES[case]
    prompt = compile_system_prompt(sheet=sheet, trait_levels=levels, catalog=CATALOG, policy=policy)
    golden = GOLDEN_DIR / f"{case}.txt"
    if UPDATE_GOLDEN:
        golden.write_text(prompt + "\n", encoding="utf-8", newline="\n")
    assert prompt + "\n" == golden.read_text(encoding="utf-8")


def test_compiling_twice_gives_the_same_prompt() -> None:
    levels = levels_for(CAMILLE_FR)
    assert compile_with_default_policy(CAMILLE_FR, levels) == compile_with_default_policy(
        CAMILLE_FR, levels
    )


def test_prompt_does_not_depend_on_mapping_order() -> None:
    levels = levels_for(CAMILLE_FR)
    reordered_sheet = CAMILLE_FR.model_copy(
        update={"appearance": dict(reversed(CAMILLE_FR.appearance.items()))}
    )
    reordered_levels = dict(reversed(levels.items()))
    assert compile_with_default_policy(reordered_sheet, reordered_levels) == (
        compile_with_default_policy(CAMILLE_FR, levels)
    )


@pytest.mark.parametrize("sheet", [SELINE, CAMILLE_FR], ids=["en", "fr"])
def test_sections_go_from_policy_to_sheet_to_traits(sheet: PersonaSheet) -> None:
    prompt = compile_with_default_policy(sheet, levels_for(sheet))
    policy_at = prompt.index(default_operator_policy(sheet.locale))
    persona = PERSONA_LINE.search(prompt)
    assert persona is not None
    assert sheet.example_dialogue is not None
    persona_at = prompt.index(persona.group(0))
    example_at = prompt.index(sheet.example_dialogue.splitlines()[0])
    traits_at = prompt.index(sentence("tone", levels_for(sheet)["tone"], sheet.locale))
    assert policy_at < persona_at < example_at < traits_at


def test_trait_instructions_follow_catalog_order() -> None:
    levels = levels_for(SELINE)
    prompt = compile_with_default_policy(SELINE, levels)
    positions = [
        prompt.index(dimension.instruction(levels[dimension.id], "en"))
        for dimension in CATALOG.dimensions
    ]
    assert positions == sorted(positions)


@pytest.mark.parametrize(
    ("sheet", "expected"),
    [(SELINE, "You are Seline."), (CAMILLE_FR, "Tu es Camille."), (MINIMAL, "You are Nova.")],
)
def test_persona_section_opens_with_the_persona_name(sheet: PersonaSheet, expected: str) -> None:
    prompt = compile_with_default_policy(sheet, levels_for(sheet))
    persona_section = prompt.split("\n\n")[1]
    first_line = persona_section.splitlines()[0]
    assert first_line == expected
    match = PERSONA_LINE.search(prompt)
    assert match is not None
    assert match.group(1) == sheet.name


@pytest.mark.parametrize("locale", sorted(DEFAULT_OPERATOR_POLICY))
def test_default_policy_never_reads_as_a_persona_name(locale: str) -> None:
    assert PERSONA_LINE.search(default_operator_policy(locale)) is None
    assert "you are" not in default_operator_policy(locale).lower()


def test_empty_fields_are_left_out() -> None:
    prompt = compile_with_default_policy(MINIMAL, levels_for(MINIMAL))
    for absent in ("None", "Age", "Character sheet", "Example dialogue", "Forbidden", ": \n"):
        assert absent not in prompt
    assert "\n\n\n" not in prompt


def test_blank_policy_leaves_the_policy_section_out() -> None:
    prompt = compile_system_prompt(
        sheet=MINIMAL, trait_levels=levels_for(MINIMAL), catalog=CATALOG, policy="  \n "
    )
    assert prompt.startswith("You are Nova.\n\n")


def test_no_trait_levels_leaves_the_trait_section_out() -> None:
    prompt = compile_with_default_policy(MINIMAL, {})
    assert prompt.endswith("You are Nova.")


def test_changing_a_slider_changes_only_the_trait_section() -> None:
    before = compile_with_default_policy(SELINE, levels_for(SELINE))
    after = compile_with_default_policy(SELINE, levels_for(SELINE, audacity=5))
    traits_start = before.index("## Style for this conversation")
    assert after[:traits_start] == before[:traits_start]
    changed = set(before.splitlines()) ^ set(after.splitlines())
    assert changed == {
        f"- {sentence('audacity', 3, 'en')}",
        f"- {sentence('audacity', 5, 'en')}",
    }


def test_unknown_trait_ids_and_invalid_levels_are_ignored() -> None:
    levels: dict[str, Any] = {"tone": 2, "no_such_trait": 4, "emojis": 9, "emotion": True}
    prompt = compile_with_default_policy(MINIMAL, levels)
    trait_lines = prompt.split("## Style for this conversation\n")[1].splitlines()
    assert trait_lines == [f"- {sentence('tone', 2, 'en')}"]


def test_forbidden_topics_become_an_explicit_instruction() -> None:
    prompt = compile_with_default_policy(CONCIERGE, levels_for(CONCIERGE))
    assert (
        "Forbidden topics: payment card numbers or passwords. If the user brings one up, "
        "politely decline and steer the conversation elsewhere."
    ) in prompt.splitlines()


def test_greeting_is_not_part_of_the_prompt() -> None:
    prompt = compile_with_default_policy(SELINE, levels_for(SELINE))
    assert SELINE.greeting is not None
    assert SELINE.greeting not in prompt


def test_multiline_field_values_stay_on_their_line() -> None:
    sheet = PersonaSheet(name="Nova", slug="nova", tone="calm\nand   kind", interests=["a\nb"])
    prompt = compile_with_default_policy(sheet, {})
    assert "Tone: calm and kind" in prompt.splitlines()
    assert "Interests: a b" in prompt.splitlines()


def test_name_ending_with_a_period_gets_no_second_period() -> None:
    sheet = PersonaSheet(name="Ada Jr.", slug="ada-jr")
    assert "You are Ada Jr.\n" in compile_with_default_policy(sheet, levels_for(sheet))


def test_french_persona_gets_french_labels_and_trait_sentences() -> None:
    prompt = compile_with_default_policy(CAMILLE_FR, levels_for(CAMILLE_FR))
    lines = prompt.splitlines()
    assert "Âge : 34" in lines
    assert "Expressions favorites : « Regardez ce détail ! », « Voyons cela. »" in lines
    assert (
        "Apparence : couleur des yeux : verts, couleur des cheveux : châtain, "
        "style : foulard coloré"
    ) in lines
    assert f"- {sentence('vocabulary', 4, 'fr')}" in lines


def test_locale_missing_from_catalog_falls_back_to_english_sentences() -> None:
    english_only = _catalog_from_toml(
        """
        locales = ["en"]
        [[dimension]]
        id = "warmth"
        label = { en = "Warmth" }
        low = { en = "cool" }
        high = { en = "warm" }
        levels = { en = ["One.", "Two.", "Three.", "Four.", "Five."] }
        """
    )
    prompt = compile_system_prompt(
        sheet=CAMILLE_FR, trait_levels={"warmth": 4}, catalog=english_only, policy=""
    )
    assert prompt.endswith("## Style pour cette conversation\n- Four.")


def test_dimension_added_by_an_operator_is_compiled_last() -> None:
    bundled = files("thinkingthoughts.personas").joinpath("traits.toml").read_text("utf-8")
    catalog = _catalog_from_toml(
        bundled
        + """
[[dimension]]
id = "storytelling"
label = { en = "Storytelling", fr = "Narration" }
low = { en = "plain facts", fr = "faits bruts" }
high = { en = "vivid stories", fr = "récits vivants" }

[dimension.levels]
en = ["S1.", "S2.", "S3.", "S4.", "S5."]
fr = ["R1.", "R2.", "R3.", "R4.", "R5."]
"""
    )
    levels = resolve_trait_levels(catalog, persona_defaults={}, requested={"storytelling": 5})
    prompt = compile_system_prompt(sheet=MINIMAL, trait_levels=levels, catalog=catalog, policy="")
    assert prompt.endswith("- S5.")


def test_custom_policy_file_replaces_the_default_in_every_locale() -> None:
    expected = CUSTOM_POLICY_FILE.read_text(encoding="utf-8").strip()
    assert load_operator_policy(CUSTOM_POLICY_FILE, "en") == expected
    assert load_operator_policy(CUSTOM_POLICY_FILE, "fr") == expected


@pytest.mark.parametrize(
    ("locale", "expected"),
    [("en", DEFAULT_OPERATOR_POLICY["en"]), ("fr", DEFAULT_OPERATOR_POLICY["fr"])],
)
def test_default_policy_is_given_per_locale(locale: str, expected: str) -> None:
    assert load_operator_policy(None, locale) == expected


def test_default_policy_falls_back_to_english() -> None:
    assert load_operator_policy(None, "de") == DEFAULT_OPERATOR_POLICY["en"]


@pytest.mark.parametrize(
    ("locale", "phrases"),
    [
        ("en", ["never claim to be human", "an ai", "forbidden topics", "manipulative"]),
        ("fr", ["ne prétends jamais être humain", "une ia", "sujets interdits", "manipulateur"]),
    ],
)
def test_default_policy_covers_ai_honesty_topics_and_content(
    locale: str, phrases: list[str]
) -> None:
    policy = default_operator_policy(locale).lower()
    for phrase in phrases:
        assert phrase in policy


def sentence(trait_id: str, level: int, locale: str) -> str:
    dimension = CATALOG.get(trait_id)
    assert dimension is not None
    return dimension.instruction(level, locale)


def _catalog_from_toml(text: str) -> TraitCatalog:
    return parse_trait_catalog(tomllib.loads(text))
