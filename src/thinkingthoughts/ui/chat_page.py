"""The Chat page: persona and sliders, the conversation as the gateway stores it, replies
streamed as they come, and the sidebar of past conversations.

The conversation shown is always read from the gateway (`GET /api/sessions/{id}`); the
page keeps only the open session's id and the widgets' values between reruns.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import closing
from dataclasses import dataclass
from typing import Any

import streamlit as st
from streamlit.string_util import is_emoji

from thinkingthoughts.ui.avatar import persona_avatar
from thinkingthoughts.ui.gateway import ChatOutcome, GatewayClient, GatewayProblem, JsonObject
from thinkingthoughts.ui.problems import problem_text
from thinkingthoughts.ui.session_list import (
    SESSIONS_PER_PAGE,
    awaits_reply,
    clamp_page,
    page_count,
    regenerable,
    session_title,
    shown_messages,
    when,
)
from thinkingthoughts.ui.state import flash, open_session_id, set_open_session
from thinkingthoughts.ui.trait_sliders import (
    MAX_LEVEL,
    MIN_LEVEL,
    TraitSlider,
    default_levels,
    session_levels,
    trait_sliders,
)

Texts = Mapping[str, str]

PERSONA_KEY = "persona"
MODEL_KEY = "model"
TEMPERATURE_KEY = "temperature"
MAX_TOKENS_KEY = "max_tokens"
CHAT_INPUT_KEY = "chat_input"
UNSENT_TEXT_KEY = "unsent_text"

SYNC_FROM_SESSION = "sync_from_session"
PERSONA_CHANGED = "persona_changed"
REGENERATE = "regenerate_requested"
STOPPED = "reply_stopped"
RETRY = "retry_message"
UNSENT = "unsent_message"
IN_FLIGHT = "message_in_flight"
CONFIRM_DELETE = "confirm_delete"
SESSIONS_PAGE = "sessions_page"

DEFAULT_TEMPERATURE = 0.7
DEFAULT_MAX_TOKENS = 512
MAX_TOKENS_CEILING = 32_768
LONG_MESSAGE_CHARS = 20_000
STOP_WAIT_SECONDS = 3.0
STOP_POLL_SECONDS = 0.2
SLIDER_COLUMNS = 3


def trait_key(trait_id: str) -> str:
    return f"trait_{trait_id}"


@dataclass(frozen=True)
class ReplySettings:
    persona: str
    traits: dict[str, int]
    temperature: float
    max_tokens: int
    model: str | None
    """An upstream model to ask for; None for the gateway's own choice."""


def render_chat(gw: GatewayClient, texts: Texts, language: str) -> None:
    personas = gw.personas()
    by_slug = {p["slug"]: p for p in personas if isinstance(p.get("slug"), str)}
    if not by_slug:
        st.info(texts["chat.no_personas"])
        return
    catalog = gw.traits()
    models = _models(gw, texts)
    sliders = trait_sliders(catalog, language)

    if isinstance(left_over := st.session_state.pop(IN_FLIGHT, None), str):
        _keep_unsent(left_over)  # a run ended (Stop) before the gateway took the message
    had_session = open_session_id() is not None
    session = _read_open_session(gw, texts)
    _prepare_widget_state(by_slug, catalog, session, models)
    _sidebar(gw, texts, session, by_slug)
    settings = _settings_widgets(texts, by_slug, sliders, models)
    persona = by_slug[settings.persona]

    regenerating = bool(st.session_state.pop(REGENERATE, False)) and session is not None
    retry = st.session_state.pop(RETRY, None)
    typed = st.chat_input(texts["chat.placeholder"], key=CHAT_INPUT_KEY, submit_mode="disable")
    if st.session_state.pop(STOPPED, False):
        st.info(texts["chat.stopped"])

    _conversation(texts, session, persona, regenerating=regenerating)
    if regenerating and session is not None:
        if _reply(gw, texts, settings, persona, session_id=str(session["id"]), message=None):
            st.rerun()
    else:
        message = typed if typed is not None else retry
        if isinstance(message, str) and had_session and session is None:
            # Meant for a conversation deleted meanwhile: kept for the person to send again.
            _keep_unsent(message)
        elif isinstance(message, str):
            _send(gw, texts, settings, persona, message)
    _unsent_area(texts)


def _models(gw: GatewayClient, texts: Texts) -> list[str]:
    """The upstream models to pick from; none (the gateway's choice) when the inference
    server cannot list them: the conversation stays readable meanwhile."""
    try:
        return gw.models()
    except GatewayProblem as problem:
        if problem.kind != "upstream":
            raise
        st.warning(problem_text(problem, texts, url=gw.base_url))
        return []


# -- the open session and the widgets' state ----------------------------------------------


def _read_open_session(gw: GatewayClient, texts: Texts) -> JsonObject | None:
    session_id = open_session_id()
    if session_id is None:
        return None
    try:
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
        _forget_session()
        st.warning(texts["chat.session_gone"])
        return None
    return session


def _forget_session() -> None:
    set_open_session(None)
    for key in (SYNC_FROM_SESSION, REGENERATE, CONFIRM_DELETE):
        st.session_state.pop(key, None)


def _prepare_widget_state(
    by_slug: Mapping[str, JsonObject],
    catalog: JsonObject,
    session: JsonObject | None,
    models: list[str],
) -> None:
    """Set the widgets' values before they are drawn: from an opened session, from a newly
    chosen persona's defaults, or their first values."""
    state = st.session_state
    synced = bool(state.pop(SYNC_FROM_SESSION, False)) and session is not None
    if synced and session is not None and session.get("persona") in by_slug:
        state[PERSONA_KEY] = session["persona"]
    elif state.get(PERSONA_KEY) not in by_slug:
        state[PERSONA_KEY] = next(iter(by_slug))
    persona = by_slug[state[PERSONA_KEY]]
    if synced and session is not None:
        _set_levels(session_levels(catalog, persona, session.get("traits") or {}), replace=True)
    else:
        changed = bool(state.pop(PERSONA_CHANGED, False))
        _set_levels(default_levels(catalog, persona), replace=changed)
    state.setdefault(TEMPERATURE_KEY, DEFAULT_TEMPERATURE)
    state.setdefault(MAX_TOKENS_KEY, DEFAULT_MAX_TOKENS)
    if models and state.get(MODEL_KEY) not in models:
        state[MODEL_KEY] = models[0]


def _set_levels(levels: Mapping[str, int], *, replace: bool) -> None:
    for trait_id, level in levels.items():
        if replace or trait_key(trait_id) not in st.session_state:
            st.session_state[trait_key(trait_id)] = level


# -- callbacks (they run before the next rerun, so they may set any widget's value) -----


def _new_conversation() -> None:
    _forget_session()


def _open(session_id: str) -> None:
    _forget_session()
    set_open_session(session_id)
    st.session_state[SYNC_FROM_SESSION] = True


def _turn_page(step: int) -> None:
    st.session_state[SESSIONS_PAGE] = max(0, int(st.session_state.get(SESSIONS_PAGE, 0)) + step)


def _persona_changed() -> None:
    st.session_state[PERSONA_CHANGED] = True


def _ask_regenerate() -> None:
    st.session_state[REGENERATE] = True


def _note_stop() -> None:
    st.session_state[STOPPED] = True


def _ask_delete(session_id: str) -> None:
    st.session_state[CONFIRM_DELETE] = session_id


def _cancel_delete() -> None:
    st.session_state.pop(CONFIRM_DELETE, None)


def _keep_unsent(message: str) -> None:
    st.session_state[UNSENT] = message
    st.session_state[UNSENT_TEXT_KEY] = message


def _edit_unsent() -> None:
    st.session_state[UNSENT] = st.session_state.get(UNSENT_TEXT_KEY, "")


def _send_unsent_again() -> None:
    st.session_state[RETRY] = st.session_state.get(UNSENT_TEXT_KEY) or st.session_state.get(
        UNSENT, ""
    )
    _discard_unsent()


def _discard_unsent() -> None:
    st.session_state.pop(UNSENT, None)
    st.session_state.pop(UNSENT_TEXT_KEY, None)


def _remember_session(outcome: ChatOutcome) -> None:
    """The gateway has the message now: the session is the open one, whatever follows."""
    st.session_state.pop(IN_FLIGHT, None)
    if outcome.session_id:
        set_open_session(outcome.session_id)


# -- sidebar: new conversation, past conversations, the open one's actions -------------------


def _sidebar(
    gw: GatewayClient, texts: Texts, session: JsonObject | None, by_slug: Mapping[str, JsonObject]
) -> None:
    bar = st.sidebar
    bar.button(texts["chat.new"], key="new_conversation", on_click=_new_conversation)
    bar.subheader(texts["sessions.title"])
    page = int(st.session_state.get(SESSIONS_PAGE, 0))
    listing = gw.sessions(limit=SESSIONS_PER_PAGE, offset=page * SESSIONS_PER_PAGE)
    total = int(listing.get("total") or 0)
    if page and page != clamp_page(page, total):
        page = clamp_page(page, total)
        st.session_state[SESSIONS_PAGE] = page
        listing = gw.sessions(limit=SESSIONS_PER_PAGE, offset=page * SESSIONS_PER_PAGE)
    current = open_session_id()
    rows = [s for s in listing.get("data") or [] if isinstance(s, dict)]
    if not rows:
        bar.caption(texts["sessions.none"])
    for row in rows:
        session_id = str(row["id"])
        bar.button(
            session_title(row, texts["sessions.untitled"]),
            key=f"open_{session_id}",
            on_click=_open,
            args=(session_id,),
            type="primary" if session_id == current else "secondary",
            width="stretch",
        )
        slug = row.get("persona")
        name = by_slug[slug].get("name") if isinstance(slug, str) and slug in by_slug else slug
        bar.caption(
            texts["sessions.line"].format(
                persona=name or texts["sessions.no_persona"], when=when(row.get("updated_at"))
            )
        )
    pages = page_count(total)
    if pages > 1:
        back, forward = bar.columns(2)
        back.button(
            texts["sessions.previous"],
            key="sessions_previous",
            disabled=page == 0,
            on_click=_turn_page,
            args=(-1,),
        )
        forward.button(
            texts["sessions.next"],
            key="sessions_next",
            disabled=page >= pages - 1,
            on_click=_turn_page,
            args=(1,),
        )
        bar.caption(texts["sessions.page"].format(page=page + 1, pages=pages))
    if session is not None:
        _session_actions(gw, texts, session)


def _session_actions(gw: GatewayClient, texts: Texts, session: JsonObject) -> None:
    bar = st.sidebar
    session_id = str(session["id"])
    bar.subheader(texts["session.this"])
    title_key = f"rename_{session_id}"
    if title_key not in st.session_state:
        st.session_state[title_key] = session.get("title") or ""
    bar.text_input(texts["session.title"], key=title_key, max_chars=200)
    if bar.button(texts["session.save"], key="rename_save"):
        title = str(st.session_state[title_key]).strip()
        if not title:
            bar.warning(texts["session.title_empty"])
        else:
            try:
                gw.rename_session(session_id, title)
            except GatewayProblem as problem:
                bar.error(problem_text(problem, texts, url=gw.base_url))
            else:
                flash("success", texts["session.renamed"])
                st.rerun()
    try:
        markdown = gw.export_markdown(session_id)
    except GatewayProblem as problem:
        bar.error(problem_text(problem, texts, url=gw.base_url))
    else:
        bar.download_button(
            texts["session.export"],
            data=markdown,
            file_name=f"conversation-{session_id}.md",
            mime="text/markdown",
            key="export",
            on_click="ignore",
        )
    if st.session_state.get(CONFIRM_DELETE) != session_id:
        bar.button(texts["session.delete"], key="delete", on_click=_ask_delete, args=(session_id,))
        return
    bar.warning(texts["session.delete_question"])
    confirm, cancel = bar.columns(2)
    if confirm.button(texts["session.delete_confirm"], key="delete_confirm", type="primary"):
        try:
            gw.delete_session(session_id)
        except GatewayProblem as problem:
            if problem.kind != "gone":
                bar.error(problem_text(problem, texts, url=gw.base_url))
                return
        _forget_session()
        flash("success", texts["session.deleted"])
        st.rerun()
    cancel.button(texts["session.delete_cancel"], key="delete_cancel", on_click=_cancel_delete)


# -- persona, sliders and reply settings --------------------------------------------------------


def _settings_widgets(
    texts: Texts,
    by_slug: Mapping[str, JsonObject],
    sliders: list[TraitSlider],
    models: list[str],
) -> ReplySettings:
    persona = by_slug[st.session_state[PERSONA_KEY]]
    picture, picker, model_picker = st.columns([1, 6, 4], vertical_alignment="bottom")
    with picture:
        _show_avatar(persona)
    picker.selectbox(
        texts["chat.persona"],
        options=list(by_slug),
        key=PERSONA_KEY,
        format_func=lambda slug: str(by_slug[slug].get("name") or slug),
        on_change=_persona_changed,
        persist_state="session",
    )
    if models:
        model_picker.selectbox(
            texts["chat.model"], options=models, key=MODEL_KEY, persist_state="session"
        )
    with st.expander(texts["chat.settings"], expanded=True):
        columns = st.columns(SLIDER_COLUMNS)
        for index, slider in enumerate(sliders):
            columns[index % SLIDER_COLUMNS].slider(
                slider.label,
                min_value=MIN_LEVEL,
                max_value=MAX_LEVEL,
                step=1,
                key=trait_key(slider.id),
                help=slider.help(texts["chat.trait_help"]),
                persist_state="session",
            )
        temperature, max_tokens = st.columns(2)
        temperature.slider(
            texts["chat.temperature"],
            min_value=0.0,
            max_value=2.0,
            step=0.05,
            key=TEMPERATURE_KEY,
            help=texts["chat.temperature_help"],
            persist_state="session",
        )
        max_tokens.number_input(
            texts["chat.max_tokens"],
            min_value=1,
            max_value=MAX_TOKENS_CEILING,
            step=1,
            key=MAX_TOKENS_KEY,
            help=texts["chat.max_tokens_help"],
            persist_state="session",
        )
    chosen_model = st.session_state.get(MODEL_KEY) if models else None
    return ReplySettings(
        persona=str(st.session_state[PERSONA_KEY]),
        traits={s.id: int(st.session_state[trait_key(s.id)]) for s in sliders},
        temperature=float(st.session_state[TEMPERATURE_KEY]),
        max_tokens=int(st.session_state[MAX_TOKENS_KEY]),
        model=chosen_model if models and chosen_model != models[0] else None,
    )


def _show_avatar(persona: JsonObject) -> None:
    avatar = persona_avatar(persona)
    if avatar.kind == "image":
        st.image(avatar.value, width=56)
    elif avatar.kind == "symbol":
        st.markdown(f"## {avatar.value}")
    else:
        st.markdown(f"## :violet-background[{avatar.value}]")


def _chat_avatar(persona: JsonObject) -> str | None:
    """What `st.chat_message` can show of the persona's avatar (None: its default icon)."""
    avatar = persona_avatar(persona)
    if avatar.kind == "image" or (avatar.kind == "symbol" and is_emoji(avatar.value)):
        return avatar.value
    return None


# -- the conversation ---------------------------------------------------------------------------


def _conversation(
    texts: Texts, session: JsonObject | None, persona: JsonObject, *, regenerating: bool
) -> None:
    if session is None:
        greeting = persona.get("greeting")
        if isinstance(greeting, str) and greeting.strip():
            with st.chat_message("assistant", avatar=_chat_avatar(persona)):
                st.markdown(greeting)
        return
    messages = shown_messages(session.get("messages") or [], regenerating=regenerating)
    for message in messages:
        _show_message(texts, message, persona)
    if not regenerating and regenerable(messages):
        st.button(texts["chat.regenerate"], key="regenerate", on_click=_ask_regenerate)


def _show_message(texts: Texts, message: Mapping[str, Any], persona: JsonObject) -> None:
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


def _send(
    gw: GatewayClient, texts: Texts, settings: ReplySettings, persona: JsonObject, message: str
) -> None:
    if not message.strip():
        st.warning(texts["chat.empty"])
        return
    long = len(message) > LONG_MESSAGE_CHARS
    if long:
        st.warning(texts["chat.long"].format(count=len(message), limit=LONG_MESSAGE_CHARS))
    with st.chat_message("user"):
        st.markdown(message)
    if _reply(gw, texts, settings, persona, session_id=open_session_id(), message=message):
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
) -> bool:
    """Stream one reply (to `message`, or again to the last one when it is None); True
    when it arrived whole. Stop reruns the page, which closes the stream."""
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
            _reply_failed(gw, texts, problem, session_id=session_id, message=message)
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
) -> None:
    outcome = gw.last_chat
    started = outcome is not None and outcome.started
    if problem.code == "session_not_found" and session_id is not None:
        _forget_session()
        st.warning(texts["chat.session_gone"])
    else:
        st.error(problem_text(problem, texts, url=gw.base_url))
    if message is not None and not started:
        _keep_unsent(message)


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
