"""Compiles a persona, its trait levels and the operator policy into the persona's slots of
the prompt (see `context.assembler`), and those, joined, into one system prompt.

Pure and deterministic: the same inputs always give the same text. Sections run from the
most stable to the least stable (operator policy, persona sheet, trait modulations), so
that prompts of one persona share a long common prefix that inference servers with prefix
caching (such as vLLM) compute once and reuse across turns and users.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TypeGuard

from thinkingthoughts.context.assembler import PromptSlots, system_text
from thinkingthoughts.personas.catalog import (
    FALLBACK_LOCALE,
    MAX_TRAIT_LEVEL,
    MIN_TRAIT_LEVEL,
    TraitCatalog,
)
from thinkingthoughts.personas.sheet import PersonaSheet


@dataclass(frozen=True, slots=True)
class _Wording:
    policy_heading: str
    you_are: str
    sheet_heading: str
    example_heading: str
    traits_heading: str
    colon: str
    quotes: tuple[str, str]
    age: str
    tone: str
    humor: str
    favorite_expressions: str
    interests: str
    emoji_usage: str
    message_style: str
    appearance: str
    forbidden_topics: str
    forbidden_instruction: str
    appearance_keys: Mapping[str, str]


_WORDING: Mapping[str, _Wording] = {
    "en": _Wording(
        policy_heading="## Operator policy",
        you_are="You are {name}",
        sheet_heading="## Character sheet",
        example_heading="## Example dialogue",
        traits_heading="## Style for this conversation",
        colon=": ",
        quotes=('"', '"'),
        age="Age",
        tone="Tone",
        humor="Humor",
        favorite_expressions="Favorite expressions",
        interests="Interests",
        emoji_usage="Emoji usage",
        message_style="Message style",
        appearance="Appearance",
        forbidden_topics="Forbidden topics",
        forbidden_instruction=(
            "If the user brings one up, politely decline and steer the conversation elsewhere."
        ),
        appearance_keys={
            "gender": "gender",
            "ethnicity": "ethnicity",
            "eye_color": "eye color",
            "hair_color": "hair color",
            "hair_type": "hair type",
        },
    ),
    "fr": _Wording(
        policy_heading="## Règles de l'opérateur",
        you_are="Tu es {name}",
        sheet_heading="## Fiche du personnage",
        example_heading="## Exemple de dialogue",
        traits_heading="## Style pour cette conversation",
        colon=" : ",
        quotes=("« ", " »"),
        age="Âge",
        tone="Ton",
        humor="Humour",
        favorite_expressions="Expressions favorites",
        interests="Centres d'intérêt",
        emoji_usage="Usage des emojis",
        message_style="Style des messages",
        appearance="Apparence",
        forbidden_topics="Sujets interdits",
        forbidden_instruction=(
            "Si l'utilisateur en aborde un, refuse poliment et oriente la conversation ailleurs."
        ),
        appearance_keys={
            "gender": "genre",
            "ethnicity": "origine",
            "eye_color": "couleur des yeux",
            "hair_color": "couleur des cheveux",
            "hair_type": "type de cheveux",
        },
    ),
}


def compile_system_prompt(
    *,
    sheet: PersonaSheet,
    trait_levels: Mapping[str, int],
    catalog: TraitCatalog,
    policy: str,
) -> str:
    """The system prompt for `sheet` at `trait_levels` (already resolved), in its locale.

    Sections, separated by blank lines: the operator policy, the persona (opening with
    "You are {name}." or "Tu es {name}."), then one instruction per trait dimension in
    catalog order. Empty fields and empty sections are left out. The greeting is not
    part of the prompt: it is the conversation's opening message. Trait ids missing from
    the catalog and levels outside 1..5 are ignored.
    """
    return system_text(
        compile_prompt_slots(sheet=sheet, trait_levels=trait_levels, catalog=catalog, policy=policy)
    )


def compile_prompt_slots(
    *,
    sheet: PersonaSheet,
    trait_levels: Mapping[str, int],
    catalog: TraitCatalog,
    policy: str,
) -> PromptSlots:
    """The persona's three slots of the prompt (operator policy, persona sheet, trait
    instructions), each rendered as in `compile_system_prompt`, for the context assembler
    to place; a slot with nothing to say is empty."""
    wording = _WORDING.get(sheet.locale, _WORDING[FALLBACK_LOCALE])
    return PromptSlots(
        operator_policy=_policy_section(policy, wording),
        persona_sheet=_persona_section(sheet, wording),
        trait_instructions=_traits_section(trait_levels, catalog, sheet.locale, wording),
    )


def _policy_section(policy: str, wording: _Wording) -> str:
    text = _paragraph(policy)
    return f"{wording.policy_heading}\n{text}" if text else ""


def _persona_section(sheet: PersonaSheet, wording: _Wording) -> str:
    name = _one_line(sheet.name)
    introduction = wording.you_are.format(name=name)
    blocks = [introduction if introduction.endswith(".") else f"{introduction}."]
    blocks.append(_paragraph(sheet.base_prompt))
    sheet_lines = list(_sheet_lines(sheet, wording))
    if sheet_lines:
        blocks.append("\n".join([wording.sheet_heading, *sheet_lines]))
    example = _paragraph(sheet.example_dialogue)
    if example:
        blocks.append(f"{wording.example_heading}\n{example}")
    return "\n\n".join(block for block in blocks if block)


def _sheet_lines(sheet: PersonaSheet, wording: _Wording) -> Iterable[str]:
    opening, closing = wording.quotes
    expressions = [f"{opening}{_one_line(item)}{closing}" for item in sheet.favorite_expressions]
    appearance = [
        f"{wording.appearance_keys.get(key, key.replace('_', ' '))}{wording.colon}"
        f"{_one_line(sheet.appearance[key])}"
        for key in sorted(sheet.appearance)
    ]
    fields = [
        (wording.age, sheet.age),
        (wording.tone, sheet.tone),
        (wording.humor, sheet.humor),
        (wording.favorite_expressions, _joined(expressions)),
        (wording.interests, _joined(sheet.interests)),
        (wording.emoji_usage, sheet.emoji_usage),
        (wording.message_style, sheet.message_style),
        (wording.appearance, _joined(appearance)),
    ]
    for label, value in fields:
        text = _one_line(value or "")
        if text:
            yield f"{label}{wording.colon}{text}"
    topics = _joined(sheet.forbidden_topics)
    if topics:
        yield (
            f"{wording.forbidden_topics}{wording.colon}{topics}. {wording.forbidden_instruction}"
        )


def _traits_section(
    trait_levels: Mapping[str, int], catalog: TraitCatalog, locale: str, wording: _Wording
) -> str:
    lines: list[str] = []
    for dimension in catalog.dimensions:
        level = trait_levels.get(dimension.id)
        if _is_level(level):
            lines.append(f"- {dimension.instruction(level, locale)}")
    return "\n".join([wording.traits_heading, *lines]) if lines else ""


def _is_level(level: object) -> TypeGuard[int]:
    return (
        isinstance(level, int)
        and not isinstance(level, bool)
        and MIN_TRAIT_LEVEL <= level <= MAX_TRAIT_LEVEL
    )


def _joined(items: Iterable[str]) -> str:
    return ", ".join(text for text in (_one_line(item) for item in items) if text)


def _one_line(text: str) -> str:
    # A field rendered as "Label: value" must stay on its line to keep the sheet readable.
    return " ".join(text.split())


def _paragraph(text: str | None) -> str:
    if not text:
        return ""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return "\n".join(line.rstrip() for line in lines).strip()
