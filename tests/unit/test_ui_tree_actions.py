"""The actions under each message (AppTest, no gateway): what each draws and what each
asks the next run to do."""

from __future__ import annotations

from typing import Any

from streamlit.testing.v1 import AppTest

from thinkingthoughts.ui.tree_actions import SentEdit

QUESTION: dict[str, Any] = {
    "id": "u1",
    "role": "user",
    "content": "Which tea?",
    "parent_id": "g",
    "sibling_index": 0,
    "sibling_count": 1,
    "sibling_ids": ["u1"],
}
FIRST_QUESTION: dict[str, Any] = {**QUESTION, "parent_id": None}
REPLY: dict[str, Any] = {
    "id": "a2",
    "role": "assistant",
    "content": "Green tea.",
    "parent_id": "u1",
    "sibling_index": 1,
    "sibling_count": 3,
    "sibling_ids": ["a1", "a2", "a3"],
}


def page(messages: list[dict[str, object]]) -> None:
    """The messages with their actions, then what they asked for, as text."""
    import streamlit as st

    from thinkingthoughts.ui.state import EDIT_SENT, EDITING, FORK_AT, SELECT_MESSAGE
    from thinkingthoughts.ui.strings import texts_for
    from thinkingthoughts.ui.tree_actions import render_message_actions

    texts = texts_for("en")
    for message in messages:
        with st.chat_message(str(message["role"])):
            render_message_actions(texts, message)
    for key in (SELECT_MESSAGE, FORK_AT, EDITING, EDIT_SENT):
        st.text(f"{key}={st.session_state.get(key)!r}")


def opened(*messages: dict[str, Any]) -> AppTest:
    return AppTest.from_function(page, args=(list(messages),), default_timeout=10).run()


def asked(app: AppTest) -> dict[str, str]:
    """What the actions noted for the next run (the page's last texts)."""
    pairs = [str(t.value).split("=", 1) for t in app.text if "=" in str(t.value)]
    return {key: value for key, value in pairs}


def test_a_reply_among_three_shows_its_place_and_asks_for_its_neighbours() -> None:
    app = opened(REPLY)

    assert app.exception == []
    bubble = app.chat_message[0]
    assert [str(t.value) for t in bubble.text] == ["2/3"]
    assert [(b.label, b.disabled) for b in bubble.button] == [
        ("‹", False),
        ("›", False),
        ("Branch from here", False),
    ]

    app.button(key="previous_a2").click().run()
    assert asked(app)["select_message"] == "'a1'"
    app.button(key="next_a2").click().run()
    assert asked(app)["select_message"] == "'a3'"


def test_the_first_and_last_versions_cannot_go_further() -> None:
    first = {**REPLY, "id": "a1", "sibling_index": 0}
    last = {**REPLY, "id": "a3", "sibling_index": 2}
    app = opened(first, last)

    assert [str(t.value) for m in app.chat_message for t in m.text] == ["1/3", "3/3"]
    assert app.button(key="previous_a1").disabled
    assert not app.button(key="next_a1").disabled
    assert not app.button(key="previous_a3").disabled
    assert app.button(key="next_a3").disabled


def test_a_message_without_alternatives_has_no_arrows() -> None:
    app = opened(QUESTION)

    assert [str(t.value) for t in app.chat_message[0].text] == []
    assert [b.label for b in app.chat_message[0].button] == ["Edit", "Branch from here"]


def test_branch_from_here_asks_for_a_fork_at_that_message() -> None:
    app = opened(QUESTION, REPLY)

    app.button(key="branch_a2").click().run()

    assert asked(app)["fork_at"] == "'a2'"


def test_edit_opens_a_form_with_the_text_and_send_asks_for_a_sibling() -> None:
    app = opened(QUESTION, REPLY)
    assert app.text_area == []  # no form until asked

    app.button(key="edit_u1").click().run()
    assert app.text_area(key="edit_text_u1").value == "Which tea?"
    app.text_area(key="edit_text_u1").set_value("Which coffee?")
    app.button(key="edit_send_u1").click().run()

    assert asked(app)["edit_sent"] == repr(SentEdit("u1", "g", "Which coffee?"))
    assert asked(app)["editing_message"] == "None"
    assert app.text_area == []


def test_an_edited_first_message_becomes_a_new_root_and_cancel_sends_nothing() -> None:
    app = opened(FIRST_QUESTION)
    app.button(key="edit_u1").click().run()
    app.button(key="edit_send_u1").click().run()
    assert asked(app)["edit_sent"] == repr(SentEdit("u1", "root", "Which tea?"))

    app = opened(FIRST_QUESTION)
    app.button(key="edit_u1").click().run()
    app.button(key="edit_cancel_u1").click().run()
    assert asked(app)["edit_sent"] == "None"
    assert app.text_area == []
