"""Which API key the page uses: the configured one, or one a person signs in with."""

from __future__ import annotations

from collections.abc import Mapping

import streamlit as st

from thinkingthoughts.ui.config import UiSettings
from thinkingthoughts.ui.gateway import GatewayClient
from thinkingthoughts.ui.gateway_problems import GatewayProblem
from thinkingthoughts.ui.problems import problem_text
from thinkingthoughts.ui.state import API_KEY

Texts = Mapping[str, str]

KEY_INPUT = "sign_in_key"
SIGN_IN_FORM = "sign_in"


def api_key(settings: UiSettings, texts: Texts) -> str:
    """The key to call the gateway with; otherwise the page stops here (after saying why,
    or after showing the sign-in form)."""
    if not settings.auth_required:
        key = settings.configured_key()
        if key is None:
            st.error(texts["access.no_key"].format(path=settings.admin_key_file))
            st.stop()
        return key
    signed_in = st.session_state.get(API_KEY)
    if not isinstance(signed_in, str) or not signed_in:
        _sign_in(settings, texts)
        st.stop()
    return signed_in


def sign_out() -> None:
    st.session_state.pop(API_KEY, None)


def _sign_in(settings: UiSettings, texts: Texts) -> None:
    st.title(texts["app.title"])
    with st.form(SIGN_IN_FORM):
        st.text_input(texts["access.key_label"], type="password", key=KEY_INPUT)
        submitted = st.form_submit_button(texts["access.sign_in"], key="sign_in_submit")
    if not submitted:
        st.info(texts["access.ask"])
        return
    candidate = str(st.session_state.get(KEY_INPUT) or "").strip()
    if not candidate:
        st.error(texts["access.empty"])
        return
    with GatewayClient(settings.backend_api_url, candidate) as gw:
        try:
            gw.me()
        except GatewayProblem as problem:
            if problem.kind == "unauthorized":
                st.error(texts["access.refused"])
            else:
                st.error(problem_text(problem, texts, url=gw.base_url))
            return
    st.session_state[API_KEY] = candidate
    st.rerun()
