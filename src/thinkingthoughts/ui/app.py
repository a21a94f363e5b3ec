"""The ThinkingThoughts chat page: `streamlit run src/thinkingthoughts/ui/app.py`.

Settings (environment): STREAMLIT_BACKEND_API_URL (the gateway), TT_API_KEY (else the
admin key the gateway's first start saved in TT_DATA_DIR/admin.key), STREAMLIT_AUTH_REQUIRED
(ask each visitor for a key) and TT_UI_LANG (en or fr).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import streamlit as st

from thinkingthoughts.ui.access import api_key, sign_out
from thinkingthoughts.ui.chat_page import render_chat
from thinkingthoughts.ui.config import UiConfigError, load_settings
from thinkingthoughts.ui.gateway import GatewayClient
from thinkingthoughts.ui.gateway_problems import GatewayProblem
from thinkingthoughts.ui.personas_page import render_personas
from thinkingthoughts.ui.problems import problem_text
from thinkingthoughts.ui.state import show_flashes
from thinkingthoughts.ui.strings import texts_for
from thinkingthoughts.ui.usage_page import render_usage

Page = Callable[[GatewayClient, Mapping[str, str], str], None]

PAGES: dict[str, Page] = {
    "chat": render_chat,
    "personas": render_personas,
    "usage": render_usage,
}
PAGE_KEY = "page"


def main() -> None:
    st.set_page_config(page_title="ThinkingThoughts", page_icon="💭", layout="wide")
    try:
        settings = load_settings()
    except UiConfigError as exc:
        st.error(str(exc))
        st.stop()
    texts = texts_for(settings.language)
    key = api_key(settings, texts)
    page = st.sidebar.radio(
        texts["nav.label"],
        options=list(PAGES),
        key=PAGE_KEY,
        format_func=lambda name: texts[f"nav.{name}"],
    )
    if settings.auth_required:
        st.sidebar.button(texts["access.sign_out"], key="sign_out", on_click=sign_out)
    show_flashes()
    with GatewayClient(settings.backend_api_url, key) as gw:
        try:
            PAGES[str(page)](gw, texts, settings.language)
        except GatewayProblem as problem:
            st.error(problem_text(problem, texts, url=gw.base_url))
            if problem.kind == "unauthorized" and settings.auth_required:
                st.sidebar.button(
                    texts["access.sign_in_again"], key="sign_in_again", on_click=sign_out
                )


main()
