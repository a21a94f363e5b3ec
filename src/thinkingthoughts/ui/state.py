"""What the page keeps between reruns, in `st.session_state`: names and small helpers.

Only ids, choices and messages for the next run live here; conversations themselves are
always read from the gateway.

The open conversation is also in the page's address, `?session=<id>`: whatever opens
or leaves a conversation goes through `set_open_session`, which keeps the two the same,
and a tab's first run (a load, a reload, a pasted link) opens the one the address names.
"""

from __future__ import annotations

from typing import Literal

import streamlit as st

from thinkingthoughts.ui.branches import linked_session_id

API_KEY = "api_key"
"""The key a person signed in with (when the page asks for one)."""
SESSION_ID = "session_id"
"""The open conversation's id; absent or None for a new conversation."""
FLASHES = "flashes"

SYNC_FROM_SESSION = "sync_from_session"
"""Set when a session is opened: the next run sets the reply settings from it."""
REGENERATE = "regenerate_requested"
"""Set by Regenerate: the next run answers the open session's last message again."""
CONFIRM_DELETE = "confirm_delete"
"""The open session's id while its deletion waits for a confirmation."""
SELECT_MESSAGE = "select_message"
"""Set by ‹ and ›: the next run makes the path through this message id the active one."""
FORK_AT = "fork_at"
"""Set by "Branch from here": the next run makes a new session of the path to this id."""
EDITING = "editing_message"
"""The id of the user message whose edit form is open."""
EDIT_SENT = "edit_sent"
"""Set by an edit form's Send: the next run sends its `SentEdit` as a new sibling."""

SESSION_PARAM = "session"
"""The query parameter naming the open conversation."""
LINK_READ = "session_link_read"
"""Set once the tab's first run has read the address."""
FROM_LINK = "session_from_link"
"""Set while the open conversation is the one the address named and is not read yet."""

FlashKind = Literal["success", "info", "warning", "error"]


def flash(kind: FlashKind, text: str) -> None:
    """A message to show at the top of the next run (for actions followed by a rerun)."""
    pending: list[tuple[FlashKind, str]] = st.session_state.setdefault(FLASHES, [])
    pending.append((kind, text))


def show_flashes() -> None:
    shown = {"success": st.success, "info": st.info, "warning": st.warning, "error": st.error}
    for kind, text in st.session_state.pop(FLASHES, []):
        shown[kind](text)


def open_session_id() -> str | None:
    value = st.session_state.get(SESSION_ID)
    return value if isinstance(value, str) and value else None


def set_open_session(session_id: str | None) -> None:
    """Open `session_id` (None: a new conversation), here and in the page's address."""
    st.session_state[SESSION_ID] = session_id
    st.session_state.pop(FROM_LINK, None)
    if session_id is None:
        st.query_params.pop(SESSION_PARAM, None)
    elif st.query_params.get(SESSION_PARAM) != session_id:
        st.query_params[SESSION_PARAM] = session_id


LinkOutcome = Literal["none", "opened", "invalid"]


def open_linked_session() -> LinkOutcome:
    """On a tab's first run, open the conversation its address names: "opened" (to be
    read from the gateway, which may not know it), "invalid" (not a session id: the
    address is cleared), or "none" (no link, or not the first run)."""
    if st.session_state.get(LINK_READ):
        return "none"
    st.session_state[LINK_READ] = True
    value = st.query_params.get(SESSION_PARAM)
    if value is None:
        return "none"
    session_id = linked_session_id(value)
    if session_id is None:
        set_open_session(None)
        return "invalid"
    set_open_session(session_id)
    st.session_state[SYNC_FROM_SESSION] = True
    st.session_state[FROM_LINK] = True
    return "opened"


def opened_from_link() -> bool:
    """True (once) when the open conversation came from the address and was not read yet."""
    return bool(st.session_state.pop(FROM_LINK, False))


def forget_open_session() -> None:
    """Back to a new conversation: nothing left pending for the one that was open."""
    set_open_session(None)
    for key in (SYNC_FROM_SESSION, REGENERATE, CONFIRM_DELETE, SELECT_MESSAGE, FORK_AT, EDITING):
        st.session_state.pop(key, None)
