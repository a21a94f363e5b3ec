"""A key's policy (limits, allow-lists) and the rules that settle what a turn consumed."""

from __future__ import annotations

from typing import Any

import pytest

from thinkingthoughts.access.key_policy import (
    POLICY_FIELDS,
    KeyPolicy,
    allow_list,
    effective_limit,
    policy_with,
)
from thinkingthoughts.context.tokens import (
    ASCII_CHARS_PER_TOKEN,
    MESSAGE_OVERHEAD_TOKENS,
    estimate_prompt_tokens,
    message_text,
)
from thinkingthoughts.engine.turn import MessageStatus
from thinkingthoughts.upstream.protocol import Usage
from thinkingthoughts.usage.metering import settled_usage

# allow_list


def test_allow_list_of_none_stays_none() -> None:
    assert allow_list(None) is None


def test_allow_list_is_trimmed_unique_and_sorted() -> None:
    assert allow_list([" tutor", "seline", "tutor ", "concierge", "seline"]) == (
        "concierge",
        "seline",
        "tutor",
    )


def test_allow_list_drops_blank_entries() -> None:
    assert allow_list(["", "  ", "tutor", "\t"]) == ("tutor",)


def test_an_empty_allow_list_stays_empty_and_is_not_none() -> None:
    assert allow_list([]) == ()


def test_allow_list_takes_any_iterable() -> None:
    assert allow_list(iter(("b", "a"))) == ("a", "b")


# effective_limit


@pytest.mark.parametrize(
    ("own", "default", "expected"),
    [(None, 60, 60), (None, 0, 0), (10, 60, 10), (0, 60, 0), (500, 60, 500)],
)
def test_effective_limit_is_the_keys_own_when_set_else_the_default(
    own: int | None, default: int, expected: int
) -> None:
    assert effective_limit(own, default) == expected


# allows_persona / allows_model


def test_a_policy_without_allow_lists_allows_everything() -> None:
    policy = KeyPolicy()
    assert policy.allows_persona("seline")
    assert policy.allows_persona("anything-at-all")
    assert policy.allows_model("thinkingthoughts-sim")


def test_an_allow_list_allows_only_its_entries() -> None:
    policy = KeyPolicy(allowed_personas=("tutor",), allowed_models=("model-a", "model-b"))
    assert policy.allows_persona("tutor")
    assert not policy.allows_persona("seline")
    assert not policy.allows_persona("tuto")  # exact names, not prefixes
    assert policy.allows_model("model-b")
    assert not policy.allows_model("model-c")


def test_an_empty_allow_list_allows_nothing() -> None:
    policy = KeyPolicy(allowed_personas=(), allowed_models=())
    assert not policy.allows_persona("tutor")
    assert not policy.allows_model("thinkingthoughts-sim")


def test_persona_and_model_allow_lists_are_independent() -> None:
    policy = KeyPolicy(allowed_personas=("tutor",))
    assert policy.allows_model("any-model")
    assert KeyPolicy(allowed_models=("m",)).allows_persona("tutor")


# policy_with


def test_policy_with_changes_only_the_named_fields() -> None:
    policy = KeyPolicy(requests_per_minute=10, tokens_per_minute=1000, allowed_models=("m",))
    changed = policy_with(policy, {"tokens_per_minute": 50})
    assert changed == KeyPolicy(requests_per_minute=10, tokens_per_minute=50, allowed_models=("m",))
    assert policy.tokens_per_minute == 1000  # the original is untouched


def test_policy_with_no_changes_is_the_same_policy() -> None:
    policy = KeyPolicy(concurrent_streams=2, allowed_personas=("tutor",))
    assert policy_with(policy, {}) == policy


def test_policy_with_none_resets_a_field_to_the_default() -> None:
    policy = KeyPolicy(requests_per_minute=10, allowed_personas=("tutor",))
    assert policy_with(policy, {"requests_per_minute": None, "allowed_personas": None}) == (
        KeyPolicy()
    )


def test_policy_with_puts_allow_lists_in_canonical_form() -> None:
    changed = policy_with(
        KeyPolicy(), {"allowed_personas": ["tutor ", "seline", "tutor"], "allowed_models": [" m"]}
    )
    assert changed.allowed_personas == ("seline", "tutor")
    assert changed.allowed_models == ("m",)


def test_policy_with_canonicalises_allow_lists_it_did_not_change() -> None:
    messy = KeyPolicy(allowed_personas=("b", "a", "a"))
    assert policy_with(messy, {"requests_per_minute": 1}).allowed_personas == ("a", "b")


def test_policy_with_refuses_fields_that_are_not_policy_fields() -> None:
    with pytest.raises(ValueError, match="owner"):
        policy_with(KeyPolicy(), {"owner": "someone", "requests_per_minute": 1})


def test_policy_fields_name_every_field_of_a_policy() -> None:
    assert {
        "requests_per_minute",
        "tokens_per_minute",
        "concurrent_streams",
        "allowed_personas",
        "allowed_models",
    } == POLICY_FIELDS


# estimate_prompt_tokens


def test_an_empty_prompt_is_estimated_at_zero() -> None:
    assert estimate_prompt_tokens([]) == 0


def test_each_message_costs_its_text_and_the_message_overhead() -> None:
    messages = [
        {"role": "system", "content": "a" * (ASCII_CHARS_PER_TOKEN * 10)},
        {"role": "user", "content": "hi"},
    ]
    assert estimate_prompt_tokens(messages) == 10 + 1 + 2 * MESSAGE_OVERHEAD_TOKENS


@pytest.mark.parametrize("message", [{"role": "assistant", "content": None}, {"role": "tool"}])
def test_a_message_without_content_costs_only_the_overhead(message: dict[str, Any]) -> None:
    assert estimate_prompt_tokens([message]) == MESSAGE_OVERHEAD_TOKENS


def test_content_parts_are_counted_as_text() -> None:
    parts = [{"type": "text", "text": "a" * 30}]
    estimate = estimate_prompt_tokens([{"role": "user", "content": parts}])
    assert estimate >= 10 + MESSAGE_OVERHEAD_TOKENS  # at least the text itself


def test_the_estimate_takes_any_iterable_of_messages() -> None:
    generated = ({"content": text} for text in ("abc", "def"))
    assert estimate_prompt_tokens(generated) == 2 * (1 + MESSAGE_OVERHEAD_TOKENS)


# settled_usage

STATUSES: tuple[MessageStatus, ...] = ("complete", "interrupted", "error")


@pytest.mark.parametrize("status", STATUSES)
def test_the_upstreams_usage_is_taken_as_it_is_when_reported(status: MessageStatus) -> None:
    reported = Usage(prompt_tokens=120, completion_tokens=7)
    settled = settled_usage(
        reported=reported, content="whatever was relayed", status=status, prompt_estimate=999
    )
    assert settled == reported


def test_an_upstream_failure_before_a_word_costs_nothing() -> None:
    settled = settled_usage(reported=None, content="", status="error", prompt_estimate=500)
    assert settled == Usage(prompt_tokens=0, completion_tokens=0)


def test_a_failure_after_some_words_costs_the_prompt_and_what_was_relayed() -> None:
    content = "a" * (ASCII_CHARS_PER_TOKEN * 4)
    settled = settled_usage(reported=None, content=content, status="error", prompt_estimate=50)
    assert settled == Usage(prompt_tokens=50, completion_tokens=4)


def test_an_unreported_complete_turn_costs_the_estimates() -> None:
    settled = settled_usage(reported=None, content="é" * 5, status="complete", prompt_estimate=80)
    assert settled == Usage(prompt_tokens=80, completion_tokens=5)


def test_an_interrupted_turn_without_words_still_costs_its_prompt() -> None:
    settled = settled_usage(reported=None, content="", status="interrupted", prompt_estimate=30)
    assert settled == Usage(prompt_tokens=30, completion_tokens=0)


def test_content_parts_are_estimated_from_their_text_alone() -> None:
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64," + "A" * 30_000}}
    parts = [{"type": "text", "text": "hi"}, image, {"type": "text", "text": " there"}]
    as_parts = estimate_prompt_tokens([{"role": "user", "content": parts}])
    as_text = estimate_prompt_tokens([{"role": "user", "content": "hi there"}])
    assert as_parts == as_text
    assert message_text(None) == ""
    assert message_text([{"type": "text"}, "stray", 3]) == ""
