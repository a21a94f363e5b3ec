from __future__ import annotations

import pytest

from thinkingthoughts.context.budget import (
    ContextBudget,
    fits,
    reply_tokens_within,
)
from thinkingthoughts.context.tokens import (
    MESSAGE_OVERHEAD_TOKENS,
    estimate_message_tokens,
    estimate_tokens,
)


def test_prompt_budget_leaves_room_for_the_reply() -> None:
    assert ContextBudget(max_model_len=4096, reply_tokens=512).prompt_tokens == 3584


def test_prompt_budget_never_goes_negative() -> None:
    assert ContextBudget(max_model_len=100, reply_tokens=500).prompt_tokens == 0


@pytest.mark.parametrize(
    ("text", "tokens"),
    [("", 0), ("abc", 1), ("abcd", 2), ("a" * 300, 100), ("日本語", 3), ("café", 2)],
)
def test_estimate_overcounts_ascii_and_counts_other_characters_one_each(
    text: str, tokens: int
) -> None:
    assert estimate_tokens(text) == tokens


def test_estimate_errs_high_for_english_prose() -> None:
    prose = "The quick brown fox jumps over the lazy dog, again and again. " * 20
    words_and_punctuation = len(prose.split()) + prose.count(",") + prose.count(".")
    assert estimate_tokens(prose) >= words_and_punctuation


def test_message_estimate_adds_template_overhead() -> None:
    assert estimate_message_tokens("abc") == 1 + MESSAGE_OVERHEAD_TOKENS


def test_fits_is_inclusive() -> None:
    assert fits(fixed_tokens=10, required_tokens=20, budget=30)
    assert not fits(fixed_tokens=10, required_tokens=21, budget=30)


@pytest.mark.parametrize(
    ("requested", "smallest_prompt", "allowed"),
    [
        (512, 100, 512),
        (4095, 100, 4095),
        (4096, 100, 3996),
        (999_999, 100, 3996),
        (999_999, 5000, 1),
    ],
)
def test_a_reply_allowance_the_context_cannot_hold_is_lowered_to_the_room_left(
    requested: int, smallest_prompt: int, allowed: int
) -> None:
    assert (
        reply_tokens_within(requested, max_model_len=4096, smallest_prompt=smallest_prompt)
        == allowed
    )
