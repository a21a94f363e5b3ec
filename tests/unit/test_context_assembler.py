"""The context assembler: slots in their fixed order, each with its budget rule.

Golden files under `golden/` hold the exact expected prompts (`assembled_*.json`). After
an intended change, regenerate them with `UPDATE_GOLDEN=1 pytest
tests/unit/test_context_assembler.py` and review the diff before committing.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.unit.test_compiler import CATALOG, GOLDEN_CASES, SELINE, levels_for
from thinkingthoughts.context.assembler import (
    LORE_SHARE,
    PromptSlots,
    assemble_prompt,
    history_room,
    post_history_tokens,
    system_text,
)
from thinkingthoughts.context.tokens import estimate_message_tokens
from thinkingthoughts.personas.compiler import compile_prompt_slots
from thinkingthoughts.personas.policy import default_operator_policy

GOLDEN_DIR = Path(__file__).parent / "golden"
UPDATE_GOLDEN = os.environ.get("UPDATE_GOLDEN") == "1"

SELINE_SLOTS = compile_prompt_slots(
    sheet=SELINE, trait_levels=levels_for(SELINE), catalog=CATALOG, policy="Be kind."
)
HISTORY = [
    {"role": "assistant", "content": "Hi, I'm Seline! What's on your mind?"},
    {"role": "user", "content": "I finished the book."},
    {"role": "assistant", "content": "Ooh, tell me more."},
    {"role": "user", "content": "The ending surprised me."},
]


def every_slot_filled() -> PromptSlots:
    return PromptSlots(
        operator_policy=SELINE_SLOTS.operator_policy,
        persona_sheet=SELINE_SLOTS.persona_sheet,
        trait_instructions=SELINE_SLOTS.trait_instructions,
        lore=("The lighthouse of Ys stands on the northern cape.",),
        knowledge=("Shop hours: 9 to 17, Monday to Saturday.", "Returns: within 30 days."),
        memory=("The user is reading a mystery novel.",),
        post_history_instructions="Stay in character; answer in two sentences at most.",
    )


def golden_json(name: str, messages: list[dict[str, Any]]) -> None:
    text = json.dumps(messages, ensure_ascii=False, indent=2) + "\n"
    golden = GOLDEN_DIR / f"{name}.json"
    if UPDATE_GOLDEN:
        golden.write_text(text, encoding="utf-8", newline="\n")
    assert text == golden.read_text(encoding="utf-8")


@pytest.mark.parametrize("case", sorted(GOLDEN_CASES))
def test_persona_slots_alone_give_the_compilers_golden_system_prompt(case: str) -> None:
    sheet, levels, policy = GOLDEN_CASES[case]
    slots = compile_prompt_slots(sheet=sheet, trait_levels=levels, catalog=CATALOG, policy=policy)
    prompt = assemble_prompt(slots, [], context_tokens=4096)
    expected = (GOLDEN_DIR / f"{case}.txt").read_text(encoding="utf-8").removesuffix("\n")
    assert prompt.messages == [{"role": "system", "content": expected}]


def test_persona_prompt_with_history_matches_golden_file() -> None:
    prompt = assemble_prompt(SELINE_SLOTS, HISTORY, context_tokens=4096)
    golden_json("assembled_seline_history", prompt.messages)
    assert prompt.history_count == len(HISTORY)


def test_every_slot_in_its_fixed_order_matches_golden_file() -> None:
    prompt = assemble_prompt(every_slot_filled(), HISTORY, context_tokens=4096)
    golden_json("assembled_every_slot", prompt.messages)
    system = prompt.messages[0]["content"]
    order = [
        "## Operator policy",
        "You are Seline.",
        "## Style for this conversation",
        "lighthouse of Ys",
        "Shop hours",
        "Returns:",
        "mystery novel",
    ]
    positions = [system.index(marker) for marker in order]
    assert positions == sorted(positions)
    assert prompt.messages[1:-1] == HISTORY
    assert prompt.messages[-1]["role"] == "system"
    assert prompt.messages[-1]["content"].startswith("Stay in character")


def test_empty_slots_leave_no_trace() -> None:
    slots = PromptSlots(operator_policy="", persona_sheet="You are Nova.", lore=("", ""))
    assert assemble_prompt(slots, []).messages == [{"role": "system", "content": "You are Nova."}]


def test_lore_is_capped_at_its_share_of_the_context_first_misfit_ending_it() -> None:
    entry = "x" * 300  # 100 estimated tokens, and 1 for its separator
    slots = PromptSlots(persona_sheet="You are Nova.", lore=(entry, entry, entry, "short"))
    context = round(250 / LORE_SHARE)  # room for two entries, not three
    text = system_text(slots, context_tokens=context)
    assert text.count(entry) == 2
    assert "short" not in text  # it would fit, but comes after the first misfit
    assert system_text(slots, context_tokens=None).count(entry) == 3
    assert "short" in system_text(slots, context_tokens=None)


def test_history_gets_the_budget_less_the_fixed_slots() -> None:
    slots = every_slot_filled()
    system = system_text(slots, context_tokens=4096)
    fixed = estimate_message_tokens(system) + estimate_message_tokens(
        slots.post_history_instructions
    )
    assert post_history_tokens(slots) == estimate_message_tokens(slots.post_history_instructions)
    assert history_room(slots, budget=3000, context_tokens=4096) == 3000 - fixed
    assert history_room(slots, budget=10, context_tokens=4096) == 0
    assert post_history_tokens(SELINE_SLOTS) == 0


def test_the_system_message_is_the_same_whatever_the_history() -> None:
    short = assemble_prompt(SELINE_SLOTS, HISTORY[:1], context_tokens=4096)
    long = assemble_prompt(SELINE_SLOTS, HISTORY, context_tokens=4096)
    assert short.messages[0] == long.messages[0]
    assert long.messages[: len(short.messages)] == short.messages


def test_default_policy_slot_is_the_compilers_policy_section() -> None:
    slots = compile_prompt_slots(
        sheet=SELINE,
        trait_levels={},
        catalog=CATALOG,
        policy=default_operator_policy("en"),
    )
    assert slots.operator_policy.startswith("## Operator policy\n")
    assert slots.trait_instructions == ""
    assert slots.persona_sheet.startswith("You are Seline.")
