"""What the page keeps between reruns, in `st.session_state`: names and small helpers.

Only ids, choices and messages for the next run live here; conversations themselves are
always read from the gateway.
"""

from __future__ import annotations

from typing import Literal

import streamlit as st

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
    st.session_state[SESSION_ID] = session_id


def forget_open_session() -> None:
    """Back to a new conversation: nothing left pending for the one that was open."""
    set_open_session(None)
    for key in (SYNC_FROM_SESSION, REGENERATE, CONFIRM_DELETE):
        st.session_state.pop(key, None)
