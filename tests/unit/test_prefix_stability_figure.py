"""The prefix-stability figure of the bench: which prompts extend the previous one."""

from __future__ import annotations

import pytest

from thinkingthoughts.bench.prefix_stability import PrefixRun, cut_turns, extended_share, extends

SYSTEM = {"role": "system", "content": "You are Seline."}


def user(text: str) -> dict[str, str]:
    return {"role": "user", "content": text}


def reply(text: str) -> dict[str, str]:
    return {"role": "assistant", "content": text}


@pytest.mark.parametrize(
    ("previous", "current", "expected"),
    [
        ([SYSTEM, user("a")], [SYSTEM, user("a"), reply("b"), user("c")], True),
        ([SYSTEM, user("a")], [SYSTEM, user("a")], True),
        ([SYSTEM, user("a"), reply("b")], [SYSTEM, user("a")], False),
        ([SYSTEM, user("a")], [SYSTEM, user("x"), reply("b")], False),
        ([SYSTEM, user("a"), reply("b")], [SYSTEM, reply("b"), user("c")], False),
    ],
)
def test_a_prompt_extends_another_when_it_begins_with_all_of_it(
    previous: list[dict[str, str]], current: list[dict[str, str]], expected: bool
) -> None:
    assert extends(previous, current) is expected


def test_share_counts_turns_after_the_first() -> None:
    prompts = [
        [SYSTEM, user("1")],
        [SYSTEM, user("1"), reply("r"), user("2")],  # extends
        [SYSTEM, user("2"), reply("r"), user("3")],  # cut: does not
        [SYSTEM, user("2"), reply("r"), user("3"), reply("r"), user("4")],  # extends
        [SYSTEM, user("2"), reply("r"), user("3"), reply("r"), user("4"), reply("r")],
    ]
    assert extended_share(prompts) == 0.75
    assert extended_share(prompts[:1]) is None


def test_cut_turns_are_those_sending_less_than_was_stored() -> None:
    run = PrefixRun(
        prompts=[[SYSTEM, reply("hi"), user("1")], [SYSTEM, user("2")]],
        stored_messages=[2, 4],
    )
    assert cut_turns(run) == 1
