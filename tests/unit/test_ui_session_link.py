"""The open conversation lives in the page's address (`?session=<id>`): a tab's first run
opens the one it names, and opening or leaving a conversation rewrites it (AppTest, no
gateway: only the page's state and its address)."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

SESSION_ID = "0b6f7c52-5a0e-4c64-a0f1-6a1b8c9d2e3f"
OTHER_ID = "5d3c1e2a-7b8f-4a6e-9c0d-1e2f3a4b5c6d"


def page(other_id: str) -> None:
    """A page that reads its link, shows what it opened, and can open or leave one."""
    import streamlit as st

    from thinkingthoughts.ui.state import (
        forget_open_session,
        open_linked_session,
        open_session_id,
        opened_from_link,
        set_open_session,
    )

    st.text(f"outcome={open_linked_session()}")
    st.text(f"open={open_session_id()}")
    st.text(f"from_link={opened_from_link()}")
    st.button("open", key="open_other", on_click=set_open_session, args=(other_id,))
    st.button("new", key="leave", on_click=forget_open_session)


def shown(app: AppTest) -> dict[str, str]:
    return dict(str(t.value).split("=", 1) for t in app.text)


def loaded(query: dict[str, str]) -> AppTest:
    app = AppTest.from_function(page, args=(OTHER_ID,), default_timeout=10)
    app.query_params.update(query)
    return app.run()


def test_a_link_opens_its_conversation_once() -> None:
    app = loaded({"session": SESSION_ID.upper()})

    assert app.exception == []
    assert shown(app) == {"outcome": "opened", "open": SESSION_ID, "from_link": "True"}
    assert app.query_params == {"session": SESSION_ID}  # in the gateway's spelling

    app.run()
    assert shown(app) == {"outcome": "none", "open": SESSION_ID, "from_link": "False"}


def test_opening_and_leaving_a_conversation_rewrite_the_address() -> None:
    app = loaded({})
    assert shown(app)["outcome"] == "none"
    assert app.query_params == {}

    app.button(key="open_other").click().run()
    assert app.query_params == {"session": OTHER_ID}
    assert shown(app)["open"] == OTHER_ID

    app.button(key="leave").click().run()
    assert app.query_params == {}
    assert shown(app)["open"] == "None"


def test_a_link_that_names_no_session_is_dropped() -> None:
    app = loaded({"session": "../../etc"})

    assert shown(app) == {"outcome": "invalid", "open": "None", "from_link": "False"}
    assert app.query_params == {}
