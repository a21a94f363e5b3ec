"""The Chat page: the conversation as the gateway stores it, replies streamed as they come
(with Stop and Regenerate), and a message that could not be sent, kept to send again. The
reply settings (`reply_settings`), the sidebar of past conversations (`sessions_sidebar`)
and each message's alternatives, edit and branch actions (`tree_actions`) are drawn from
here.

The conversation shown is always the gateway's (`GET /api/sessions/{id}`, or the answer
of a select or fork): its active path. The page keeps only the open session's id (also in
its address, `?session=<id>`) and the widgets' values between reruns.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import closing
from typing import Any

import streamlit as st
from streamlit.string_util import is_emoji

from thinkingthoughts.ui.avatar import persona_avatar
from thinkingthoughts.ui.branches import messages_before
from thinkingthoughts.ui.gateway import ChatOutcome, GatewayClient, JsonObject
from thinkingthoughts.ui.gateway_problems import GatewayProblem
from thinkingthoughts.ui.problems import problem_text
from thinkingthoughts.ui.reply_settings import (
    ReplySettings,
    available_models,
    prepare_widget_state,
    render_reply_settings,
)
from thinkingthoughts.ui.session_list import awaits_reply, regenerable, shown_messages
from thinkingthoughts.ui.sessions_sidebar import render_sessions_sidebar
from thinkingthoughts.ui.state import (
    REGENERATE,
    flash,
    forget_open_session,
    open_linked_session,
    open_session_id,
    opened_from_link,
    set_open_session,
)
from thinkingthoughts.ui.trait_sliders import trait_sliders
from thinkingthoughts.ui.tree_actions import (
    SentEdit,
    render_message_actions,
    sent_edit,
    take_tree_action,
)

Texts = Mapping[str, str]

CHAT_INPUT_KEY = "chat_input"
UNSENT_TEXT_KEY = "unsent_text"

STOPPED = "reply_stopped"
RETRY = "retry_message"
RETRY_PARENT = "retry_parent"
UNSENT = "unsent_message"
UNSENT_PARENT = "unsent_parent"
"""The message an unsent edit answers from (its `parent_id`); absent for a plain one."""
IN_FLIGHT = "message_in_flight"

LONG_MESSAGE_CHARS = 20_000
STOP_WAIT_SECONDS = 3.0
STOP_POLL_SECONDS = 0.2


def render_chat(gw: GatewayClient, texts: Texts, language: str) -> None:
    personas, default_persona = gw.personas_and_default()
    by_slug = {p["slug"]: p for p in personas if isinstance(p.get("slug"), str)}
    if not by_slug:
        st.info(texts["chat.no_personas"])
        return
    catalog = gw.traits()
    models = available_models(gw, texts)
    sliders = trait_sliders(catalog, language)

    if isinstance(left_over := st.session_state.pop(IN_FLIGHT, None), str):
        _keep_unsent(left_over)  # a run ended (Stop) before the gateway took the message
    if open_linked_session() == "invalid":
        st.warning(texts["chat.link_invalid"])
    had_session = open_session_id() is not None
    session = _read_open_session(gw, texts)
    prepare_widget_state(by_slug, catalog, session, models, default_persona=default_persona)
    render_sessions_sidebar(gw, texts, session, by_slug)
    settings = render_reply_settings(texts, by_slug, sliders, models)
    persona = by_slug[settings.persona]

    regenerating = bool(st.session_state.pop(REGENERATE, False)) and session is not None
    edit = sent_edit()
    retry = st.session_state.pop(RETRY, None)
    retry_parent = st.session_state.pop(RETRY_PARENT, None)
    typed = st.chat_input(texts["chat.placeholder"], key=CHAT_INPUT_KEY, submit_mode="disable")
    if st.session_state.pop(STOPPED, False):
        st.info(texts["chat.stopped"])

    message = typed if typed is not None else retry
    parent_id = retry_parent if typed is None and isinstance(retry_parent, str) else None
    if edit is not None:
        message, parent_id = edit.text, edit.parent_id
    busy = regenerating or isinstance(message, str)
    _conversation(texts, session, persona, regenerating=regenerating, edit=edit, busy=busy)
    if regenerating and session is not None:
        if _reply(gw, texts, settings, persona, session_id=str(session["id"]), message=None):
            st.rerun()
    elif isinstance(message, str) and had_session and session is None:
        # Meant for a conversation deleted meanwhile: kept for the person to send again.
        _keep_unsent(message)
    elif isinstance(message, str):
        _send(gw, texts, settings, persona, message, parent_id=parent_id)
    _unsent_area(texts)


# -- the open session -------------------------------------------------------------------------


def _read_open_session(gw: GatewayClient, texts: Texts) -> JsonObject | None:
    session_id = open_session_id()
    if session_id is None:
        return None
    from_link = opened_from_link()
    try:
        changed = take_tree_action(gw, texts, session_id)
        if changed is not None:
            return changed
        session = gw.read_session(session_id)
        if st.session_state.get(STOPPED):
            # A stopped reply is stored by the gateway once it notices the closed stream.
            deadline = time.monotonic() + STOP_WAIT_SECONDS
            while awaits_reply(session["messages"]) and time.monotonic() < deadline:
                time.sleep(STOP_POLL_SECONDS)
                session = gw.read_session(session_id)
    except GatewayProblem as problem:
        if problem.kind != "gone":
            raise
        forget_open_session()
        st.warning(texts["chat.link_not_found"] if from_link else texts["chat.session_gone"])
        return None
    return session


# -- callbacks (they run before the next rerun, so they may set any widget's value) -----


def _ask_regenerate() -> None:
    st.session_state[REGENERATE] = True


def _note_stop() -> None:
    st.session_state[STOPPED] = True


def _keep_unsent(message: str, parent_id: str | None = None) -> None:
    st.session_state[UNSENT] = message
    st.session_state[UNSENT_TEXT_KEY] = message
    if parent_id is None:
        st.session_state.pop(UNSENT_PARENT, None)
    else:
        st.session_state[UNSENT_PARENT] = parent_id


def _edit_unsent() -> None:
    st.session_state[UNSENT] = st.session_state.get(UNSENT_TEXT_KEY, "")


def _send_unsent_again() -> None:
    st.session_state[RETRY] = st.session_state.get(UNSENT_TEXT_KEY) or st.session_state.get(
        UNSENT, ""
    )
    if isinstance(parent_id := st.session_state.get(UNSENT_PARENT), str):
        st.session_state[RETRY_PARENT] = parent_id
    _discard_unsent()


def _discard_unsent() -> None:
    for key in (UNSENT, UNSENT_TEXT_KEY, UNSENT_PARENT):
        st.session_state.pop(key, None)


def _remember_session(outcome: ChatOutcome) -> None:
    """The gateway has the message now: the session is the open one, whatever follows."""
    st.session_state.pop(IN_FLIGHT, None)
    if outcome.session_id:
        set_open_session(outcome.session_id)


# -- the conversation ---------------------------------------------------------------------------


def _conversation(
    texts: Texts,
    session: JsonObject | None,
    persona: JsonObject,
    *,
    regenerating: bool,
    edit: SentEdit | None,
    busy: bool,
) -> None:
    """The stored messages (above an edited one being sent: only those before it), each
    with its actions unless a turn is under way."""
    if session is None:
        greeting = persona.get("greeting")
        if isinstance(greeting, str) and greeting.strip():
            with st.chat_message("assistant", avatar=_chat_avatar(persona)):
                st.markdown(greeting)
        return
    messages = shown_messages(session.get("messages") or [], regenerating=regenerating)
    if edit is not None:
        messages = messages_before(messages, edit.message_id)
    for message in messages:
        _show_message(texts, message, persona, actions=not busy)
    if not busy and regenerable(messages):
        st.button(texts["chat.regenerate"], key="regenerate", on_click=_ask_regenerate)


def _show_message(
    texts: Texts, message: Mapping[str, Any], persona: JsonObject, *, actions: bool
) -> None:
    role = str(message.get("role"))
    avatar = _chat_avatar(persona) if role == "assistant" else None
    with st.chat_message(role, avatar=avatar):
        content = message.get("content")
        if isinstance(content, str) and content:
            st.markdown(content)
        status = message.get("status")
        if status == "interrupted":
            st.caption(texts["chat.interrupted"])
        elif status == "error":
            st.caption(texts["chat.reply_failed"])
        if actions:
            render_message_actions(texts, message)


def _chat_avatar(persona: JsonObject) -> str | None:
    """What `st.chat_message` can show of the persona's avatar (None: its default icon)."""
    avatar = persona_avatar(persona)
    if avatar.kind == "image" or (avatar.kind == "symbol" and is_emoji(avatar.value)):
        return avatar.value
    return None


def _send(
    gw: GatewayClient,
    texts: Texts,
    settings: ReplySettings,
    persona: JsonObject,
    message: str,
    *,
    parent_id: str | None = None,
) -> None:
    """Send `message` after the active path's last message, or after `parent_id` (an
    edit, sent as a new sibling of the message edited)."""
    if not message.strip():
        st.warning(texts["chat.empty"])
        return
    long = len(message) > LONG_MESSAGE_CHARS
    if long:
        st.warning(texts["chat.long"].format(count=len(message), limit=LONG_MESSAGE_CHARS))
    with st.chat_message("user"):
        st.markdown(message)
    session_id = open_session_id()
    if parent_id is not None and session_id is None:
        parent_id = None  # the conversation it branched in is gone: a new one
    sent = _reply(
        gw, texts, settings, persona, session_id=session_id, message=message, parent_id=parent_id
    )
    if sent:
        if long:
            flash("info", texts["chat.long_accepted"].format(count=len(message)))
        st.rerun()


def _reply(
    gw: GatewayClient,
    texts: Texts,
    settings: ReplySettings,
    persona: JsonObject,
    *,
    session_id: str | None,
    message: str | None,
    parent_id: str | None = None,
) -> bool:
    """Stream one reply (to `message`, sent after `parent_id` when given, or another
    reply to the last one when it is None); True when it arrived whole. Stop reruns the
    page, which closes the stream."""
    with st.chat_message("assistant", avatar=_chat_avatar(persona)):
        thinking = st.empty()
        thinking.caption(texts["chat.thinking"])
        body = st.container()
        st.button(texts["chat.stop"], key="stop", on_click=_note_stop)
        deltas = gw.stream_chat(
            message=message,
            persona=settings.persona,
            traits=settings.traits,
            temperature=settings.temperature,
            max_tokens=settings.max_tokens,
            session_id=session_id,
            parent_id=parent_id,
            model=settings.model,
            regenerate=message is None,
            on_start=_remember_session,
        )
        if message is not None:
            st.session_state[IN_FLIGHT] = message
        try:
            with closing(deltas):
                body.write_stream(_clear_on_first(deltas, thinking.empty))
        except GatewayProblem as problem:
            st.session_state.pop(IN_FLIGHT, None)
            thinking.empty()
            _reply_failed(
                gw, texts, problem, session_id=session_id, message=message, parent_id=parent_id
            )
            return False
    st.session_state.pop(IN_FLIGHT, None)
    outcome = gw.last_chat
    if outcome is not None and outcome.finish_reason == "length":
        flash("info", texts["chat.cut_at_max_tokens"])
    return True


def _clear_on_first(deltas: Iterator[str], clear: Callable[[], object]) -> Iterator[str]:
    first = True
    for delta in deltas:
        if first:
            clear()
            first = False
        yield delta


def _reply_failed(
    gw: GatewayClient,
    texts: Texts,
    problem: GatewayProblem,
    *,
    session_id: str | None,
    message: str | None,
    parent_id: str | None,
) -> None:
    outcome = gw.last_chat
    started = outcome is not None and outcome.started
    if problem.code == "session_not_found" and session_id is not None:
        forget_open_session()
        st.warning(texts["chat.session_gone"])
    else:
        st.error(problem_text(problem, texts, url=gw.base_url))
    if problem.code == "message_not_found":
        parent_id = None  # what it answered is gone: sent again, it continues the path
    if message is not None and not started:
        _keep_unsent(message, parent_id)


def _unsent_area(texts: Texts) -> None:
    """A message that could not be sent stays here, editable, until sent again or dropped."""
    text = st.session_state.get(UNSENT)
    if not isinstance(text, str):
        return
    if UNSENT_TEXT_KEY not in st.session_state:
        st.session_state[UNSENT_TEXT_KEY] = text
    st.text_area(texts["chat.unsent"], key=UNSENT_TEXT_KEY, on_change=_edit_unsent)
    again, drop = st.columns(2)
    again.button(texts["chat.send_again"], key="unsent_retry", on_click=_send_unsent_again)
    drop.button(texts["chat.discard"], key="unsent_discard", on_click=_discard_unsent)
