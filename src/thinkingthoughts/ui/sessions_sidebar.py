"""The Chat page's sidebar: a new conversation, the past ones a page at a time, and the
open one's rename, Markdown export and delete (once confirmed)."""

from __future__ import annotations

from collections.abc import Mapping

import streamlit as st

from thinkingthoughts.ui.gateway import GatewayClient, JsonObject
from thinkingthoughts.ui.gateway_problems import GatewayProblem
from thinkingthoughts.ui.problems import problem_text
from thinkingthoughts.ui.session_list import (
    SESSIONS_PER_PAGE,
    clamp_page,
    page_count,
    session_title,
    when,
)
from thinkingthoughts.ui.state import (
    CONFIRM_DELETE,
    SYNC_FROM_SESSION,
    flash,
    forget_open_session,
    open_session_id,
    set_open_session,
)

Texts = Mapping[str, str]

SESSIONS_PAGE = "sessions_page"


def render_sessions_sidebar(
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
        forget_open_session()
        flash("success", texts["session.deleted"])
        st.rerun()
    cancel.button(texts["session.delete_cancel"], key="delete_cancel", on_click=_cancel_delete)


# -- callbacks (they run before the next rerun, so they may set any widget's value) -----


def _new_conversation() -> None:
    forget_open_session()


def _open(session_id: str) -> None:
    forget_open_session()
    set_open_session(session_id)
    st.session_state[SYNC_FROM_SESSION] = True


def _turn_page(step: int) -> None:
    st.session_state[SESSIONS_PAGE] = max(0, int(st.session_state.get(SESSIONS_PAGE, 0)) + step)


def _ask_delete(session_id: str) -> None:
    st.session_state[CONFIRM_DELETE] = session_id


def _cancel_delete() -> None:
    st.session_state.pop(CONFIRM_DELETE, None)
