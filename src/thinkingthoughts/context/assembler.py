"""The upstream prompt, assembled from named slots: pure, the one place its order is set.

Slots run from the most stable to the least stable, so prompts of one persona share a long
common prefix that an inference server's prefix cache (vLLM's) computes once:

    operator policy │ persona sheet │ trait instructions │ lore │ knowledge │ memory
        → one system message, its sections separated by blank lines (empty ones left out)
    history
        → the conversation's messages, as given
    post-history instructions
        → one system message after the history, when there are any

Each slot has its own budget rule:

- operator policy, persona sheet, trait instructions: fixed, always sent whole. When they
  and the newest message cannot fit the model's context, the turn is refused upstream of
  here; nothing is cut from them.
- lore, knowledge, memory: entries given most relevant first, each slot capped at its
  share of the model's context (LORE_SHARE, KNOWLEDGE_SHARE, MEMORY_SHARE); entries are
  kept in order while they fit under the cap, the rest are left out. Empty until lore,
  knowledge and memory exist.
- history: fills what is left (`history_room`), chosen by the eviction rule of
  `context.eviction` (in chunks, so each turn's prompt extends the previous one's) by the
  caller that reads the stored conversation, and sent as given.
- post-history instructions: fixed, always sent.

With only the first three slots filled, the system message is exactly the persona
compiler's system prompt of before slots existed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from thinkingthoughts.context.tokens import estimate_message_tokens, estimate_tokens

LORE_SHARE = 0.10
KNOWLEDGE_SHARE = 0.15
MEMORY_SHARE = 0.10
SECTION_SEPARATOR = "\n\n"


@dataclass(frozen=True, slots=True)
class PromptSlots:
    """Everything of a prompt but its history, each slot already rendered as text."""

    operator_policy: str = ""
    persona_sheet: str = ""
    trait_instructions: str = ""
    lore: Sequence[str] = ()
    knowledge: Sequence[str] = ()
    memory: Sequence[str] = ()
    post_history_instructions: str = ""


@dataclass(frozen=True, slots=True)
class AssembledPrompt:
    messages: list[dict[str, Any]]
    """The chat messages for the upstream, in slot order."""
    system_text: str
    history_count: int


def system_text(slots: PromptSlots, *, context_tokens: int | None = None) -> str:
    """The system message: the slots before the history, in order. With `context_tokens`
    (the model's context), lore, knowledge and memory are capped at their shares of it;
    without, they are sent whole (a preview of what a persona says)."""
    sections = [
        slots.operator_policy,
        slots.persona_sheet,
        slots.trait_instructions,
        *_capped(slots.lore, LORE_SHARE, context_tokens),
        *_capped(slots.knowledge, KNOWLEDGE_SHARE, context_tokens),
        *_capped(slots.memory, MEMORY_SHARE, context_tokens),
    ]
    return SECTION_SEPARATOR.join(section for section in sections if section)


def history_room(slots: PromptSlots, *, budget: int, context_tokens: int | None = None) -> int:
    """What the history may take of a prompt `budget`: the rest after the system message
    and the post-history instructions (never below zero)."""
    fixed = estimate_message_tokens(system_text(slots, context_tokens=context_tokens))
    if slots.post_history_instructions:
        fixed += estimate_message_tokens(slots.post_history_instructions)
    return max(budget - fixed, 0)


def post_history_tokens(slots: PromptSlots) -> int:
    text = slots.post_history_instructions
    return estimate_message_tokens(text) if text else 0


def assemble_prompt(
    slots: PromptSlots,
    history: Sequence[dict[str, Any]],
    *,
    context_tokens: int | None = None,
) -> AssembledPrompt:
    """The upstream messages: the system message, the history as given (already chosen
    to fit `history_room`), then the post-history instructions."""
    system = system_text(slots, context_tokens=context_tokens)
    messages: list[dict[str, Any]] = [{"role": "system", "content": system}]
    messages.extend(history)
    if slots.post_history_instructions:
        messages.append({"role": "system", "content": slots.post_history_instructions})
    return AssembledPrompt(messages=messages, system_text=system, history_count=len(history))


def _capped(entries: Sequence[str], share: float, context_tokens: int | None) -> list[str]:
    """The leading entries that fit under `share` of the context, the first misfit ending
    them (entries come most relevant first; a later, smaller one is not slipped in)."""
    if context_tokens is None:
        return [entry for entry in entries if entry]
    cap = int(context_tokens * share)
    kept: list[str] = []
    used = 0
    for entry in entries:
        if not entry:
            continue
        size = estimate_tokens(entry) + estimate_tokens(SECTION_SEPARATOR)
        if used + size > cap:
            break
        kept.append(entry)
        used += size
    return kept
