"""What the page reads of a conversation's tree: alternatives, edit parents, links."""

from __future__ import annotations

from typing import Any

import pytest

from thinkingthoughts.ui.branches import (
    ROOT,
    Siblings,
    edit_parent,
    linked_session_id,
    messages_before,
    siblings_of,
)

SESSION_ID = "0b6f7c52-5a0e-4c64-a0f1-6a1b8c9d2e3f"


def reply(message_id: str, ids: list[str], index: int) -> dict[str, Any]:
    return {
        "id": message_id,
        "role": "assistant",
        "parent_id": "u1",
        "sibling_index": index,
        "sibling_count": len(ids),
        "sibling_ids": ids,
    }


def test_a_reply_among_three_knows_its_neighbours() -> None:
    ids = ["a", "b", "c"]
    assert siblings_of(reply("a", ids, 0)) == Siblings(1, 3, None, "b")
    assert siblings_of(reply("b", ids, 1)) == Siblings(2, 3, "a", "c")
    assert siblings_of(reply("c", ids, 2)) == Siblings(3, 3, "b", None)


@pytest.mark.parametrize(
    "message",
    [
        reply("a", ["a"], 0),  # the only one
        {"id": "a", "role": "assistant"},  # nothing said about siblings
        reply("a", ["a", "b"], 2),  # an index past the list
        reply("a", ["a", "b"], -1),
        reply("a", ["b", "a"], 0),  # the index names another message
        {**reply("a", ["a", "b"], 0), "sibling_index": True},
        {**reply("a", ["a", "b"], 0), "sibling_ids": ["a", 7]},
        {**reply("a", ["a", "b"], 0), "sibling_ids": "a,b"},
    ],
)
def test_a_message_without_sound_alternatives_shows_no_arrows(message: dict[str, Any]) -> None:
    assert siblings_of(message) is None


def test_an_edit_is_sent_after_the_edited_messages_parent_or_as_a_new_root() -> None:
    assert edit_parent({"id": "u2", "parent_id": "a1"}) == "a1"
    assert edit_parent({"id": "u1", "parent_id": None}) == ROOT == "root"
    assert edit_parent({"id": "u1"}) == "root"


def test_while_an_edit_is_sent_only_the_messages_above_it_are_shown() -> None:
    messages = [{"id": "g"}, {"id": "u1"}, {"id": "a1"}, {"id": "u2"}, {"id": "a2"}]
    assert messages_before(messages, "u2") == messages[:3]
    assert messages_before(messages, "g") == []
    assert messages_before(messages, "elsewhere") == messages


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (SESSION_ID, SESSION_ID),
        (f"  {SESSION_ID.upper()} ", SESSION_ID),
        (SESSION_ID.replace("-", ""), SESSION_ID),
        ("not-a-session", None),
        ("", None),
        (None, None),
        ([SESSION_ID], None),
    ],
)
def test_a_link_names_a_session_only_by_a_well_formed_id(
    value: object, expected: str | None
) -> None:
    assert linked_session_id(value) == expected
