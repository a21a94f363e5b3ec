"""Under each message of the open conversation: "‹ i/n ›" to move between its
alternatives, Edit (on the person's messages) and "Branch from here".

A button only notes what was asked (its callback runs before the next run, with no
gateway at hand); the Chat page's next run does it: `take_tree_action` for a move or a
branch, `sent_edit` for an edited message, which is streamed like any turn.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import streamlit as st

from thinkingthoughts.ui.branches import edit_parent, siblings_of
from thinkingthoughts.ui.gateway import GatewayClient, JsonObject
from thinkingthoughts.ui.gateway_problems import GatewayProblem
from thinkingthoughts.ui.state import (
    EDIT_SENT,
    EDITING,
    FORK_AT,
    SELECT_MESSAGE,
    SYNC_FROM_SESSION,
    set_open_session,
)

Texts = Mapping[str, str]


@dataclass(frozen=True)
class SentEdit:
    """An edited user message to send as a new sibling of `message_id`."""

    message_id: str
    parent_id: str
    """The edited message's parent, or "root"."""
    text: str


def render_message_actions(texts: Texts, message: Mapping[str, Any]) -> None:
    """The actions under one stored message (drawn inside its chat bubble)."""
    message_id = message.get("id")
    if not isinstance(message_id, str):
        return
    is_user = message.get("role") == "user"
    row = st.container(horizontal=True, gap="small", vertical_alignment="center")
    siblings = siblings_of(message)
    if siblings is not None:
        row.button(
            texts["chat.previous_version"],
            key=f"previous_{message_id}",
            help=texts["chat.previous_version_help"],
            type="tertiary",
            disabled=siblings.previous_id is None,
            on_click=_ask_select,
            args=(siblings.previous_id,),
        )
        row.text(
            texts["chat.version"].format(position=siblings.position, count=siblings.count),
            width="content",
        )
        row.button(
            texts["chat.next_version"],
            key=f"next_{message_id}",
            help=texts["chat.next_version_help"],
            type="tertiary",
            disabled=siblings.next_id is None,
            on_click=_ask_select,
            args=(siblings.next_id,),
        )
    if is_user:
        row.button(
            texts["chat.edit"],
            key=f"edit_{message_id}",
            type="tertiary",
            on_click=_open_edit,
            args=(message_id,),
        )
    row.button(
        texts["chat.branch"],
        key=f"branch_{message_id}",
        help=texts["chat.branch_help"],
        type="tertiary",
        on_click=_ask_fork,
        args=(message_id,),
    )
    if is_user and st.session_state.get(EDITING) == message_id:
        _edit_form(texts, message_id, message)


def _edit_form(texts: Texts, message_id: str, message: Mapping[str, Any]) -> None:
    content = message.get("content")
    with st.form(key=f"edit_form_{message_id}", border=False):
        st.text_area(
            texts["chat.edit_label"],
            value=content if isinstance(content, str) else "",
            key=_edit_text_key(message_id),
        )
        send, cancel = st.columns(2)
        send.form_submit_button(
            texts["chat.edit_send"],
            key=f"edit_send_{message_id}",
            type="primary",
            on_click=_send_edit,
            args=(message_id, edit_parent(message)),
        )
        cancel.form_submit_button(
            texts["chat.edit_cancel"], key=f"edit_cancel_{message_id}", on_click=_close_edit
        )


def take_tree_action(gw: GatewayClient, texts: Texts, session_id: str) -> JsonObject | None:
    """Do the move or branch asked for on the last run; the session to show then (the
    new one, opened, after a branch), or None when nothing was asked or the message is
    no longer there. A session the gateway does not know raises its GatewayProblem."""
    target = st.session_state.pop(SELECT_MESSAGE, None)
    fork_at = st.session_state.pop(FORK_AT, None)
    try:
        if isinstance(target, str):
            return gw.select_message(session_id, target)
        if isinstance(fork_at, str):
            forked = gw.fork_session(session_id, fork_at)
            set_open_session(str(forked["id"]))
            st.session_state[SYNC_FROM_SESSION] = True
            st.success(texts["chat.branched"])
            return forked
    except GatewayProblem as problem:
        if problem.code != "message_not_found":
            raise
        st.warning(texts["chat.message_gone"])
    return None


def sent_edit() -> SentEdit | None:
    """The edited message sent on the last run, if any (taken: asked for once)."""
    edit = st.session_state.pop(EDIT_SENT, None)
    return edit if isinstance(edit, SentEdit) else None


# -- callbacks (they run before the next rerun, so they may set any widget's value) -----


def _edit_text_key(message_id: str) -> str:
    return f"edit_text_{message_id}"


def _ask_select(message_id: str) -> None:
    st.session_state[SELECT_MESSAGE] = message_id


def _ask_fork(message_id: str) -> None:
    st.session_state[FORK_AT] = message_id


def _open_edit(message_id: str) -> None:
    st.session_state.pop(_edit_text_key(message_id), None)  # prefilled afresh
    st.session_state[EDITING] = message_id


def _close_edit() -> None:
    st.session_state.pop(EDITING, None)


def _send_edit(message_id: str, parent_id: str) -> None:
    text = st.session_state.get(_edit_text_key(message_id))
    st.session_state[EDIT_SENT] = SentEdit(message_id, parent_id, str(text or ""))
    _close_edit()
