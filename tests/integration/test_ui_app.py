"""The chat page (Streamlit's AppTest) against a live gateway over real HTTP."""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from streamlit.testing.v1 import AppTest

import thinkingthoughts.ui
from tests.integration.conftest import GatewayFactory, SimulatorFactory
from tests.integration.live_servers import LiveGateway, ThreadedSimulator, create_key_for
from thinkingthoughts.access.api_keys import Scope

APP = Path(thinkingthoughts.ui.__file__).with_name("app.py")
UI_VARIABLES = (
    "STREAMLIT_BACKEND_API_URL",
    "TT_API_KEY",
    "TT_DATA_DIR",
    "STREAMLIT_AUTH_REQUIRED",
    "TT_UI_LANG",
)
RUN_TIMEOUT = 30
WAIT_SECONDS = 20.0

PageOpener = Callable[..., AppTest]


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """The page sees the gateway over HTTP only, the same whichever database is behind it:
    these tests run once, on SQLite (the gateway's client tests run on both)."""
    return f"sqlite+aiosqlite:///{tmp_path / 'db' / 'thinkingthoughts.db'}"


@pytest.fixture
def open_page(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> PageOpener:
    """Run the page once with the environment given (STREAMLIT_BACKEND_API_URL and
    TT_API_KEY of `gateway` unless told otherwise) and the address's `query`, as a tab
    that opens it (or reloads it); nothing else of the machine leaks in."""
    for name in UI_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TT_DATA_DIR", str(tmp_path / "no-data"))

    def start(
        gateway: LiveGateway | None = None,
        *,
        query: dict[str, str] | None = None,
        **env: str | None,
    ) -> AppTest:
        if gateway is not None:
            monkeypatch.setenv("STREAMLIT_BACKEND_API_URL", gateway.base_url)
            monkeypatch.setenv("TT_API_KEY", gateway.admin_key)
        for name, value in env.items():
            if value is None:
                monkeypatch.delenv(name, raising=False)
            else:
                monkeypatch.setenv(name, value)
        page = AppTest.from_file(str(APP), default_timeout=RUN_TIMEOUT)
        page.query_params.update(query or {})
        return page.run()

    return start


def conversation(page: AppTest) -> list[tuple[str, str]]:
    """(role, text) of every chat bubble, as shown."""
    return [
        (message.name, "\n".join(str(m.value) for m in message.markdown))
        for message in page.chat_message
    ]


def notes(page: AppTest) -> list[str]:
    """Every caption of the chat bubbles, e.g. "(interrupted)"."""
    return [str(c.value) for message in page.chat_message for c in message.caption]


def session_buttons(page: AppTest) -> dict[str, str]:
    """Session id -> label of the sidebar's conversation buttons."""
    return {
        str(b.key).removeprefix("open_"): str(b.label)
        for b in page.sidebar.button
        if str(b.key).startswith("open_")
    }


def errors(page: AppTest) -> list[str]:
    return [str(e.value) for e in page.error]


def warnings(page: AppTest) -> list[str]:
    return [str(w.value) for w in page.warning]


def send(page: AppTest, text: str) -> AppTest:
    return page.chat_input(key="chat_input").set_value(text).run()


def persona_name(page: AppTest) -> str:
    picker = page.selectbox(key="persona")
    return str(picker.format_func(picker.value))


def sessions(admin: httpx.Client) -> list[dict[str, Any]]:
    return list(admin.get("/api/sessions", params={"limit": 100}).json()["data"])


def stored(admin: httpx.Client, session_id: str) -> list[dict[str, Any]]:
    response = admin.get(f"/api/sessions/{session_id}", params={"limit": 500})
    return list(response.json()["messages"])


def closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture
def page(gateway: LiveGateway, open_page: PageOpener) -> AppTest:
    return open_page(gateway)


# -- the chat page ------------------------------------------------------------------------


def test_the_chat_page_offers_the_personas_and_the_nine_trait_sliders(
    page: AppTest, admin: httpx.Client, simulator: ThreadedSimulator
) -> None:
    assert page.exception == []
    personas = admin.get("/api/personas").json()["data"]
    picker = page.selectbox(key="persona")
    assert picker.label == "Persona"
    assert sorted(picker.options) == sorted(p["name"] for p in personas)
    chosen = next(p for p in personas if p["slug"] == picker.value)

    catalog = admin.get("/api/traits").json()
    sliders = [s for s in page.slider if str(s.key).startswith("trait_")]
    assert len(sliders) == 9
    for dimension in catalog["dimensions"]:
        slider = page.slider(key=f"trait_{dimension['id']}")
        assert slider.label == dimension["label"]["en"]
        assert (slider.min, slider.max) == (1, 5)
        assert slider.value == chosen["default_traits"].get(dimension["id"], 3)
        assert dimension["low"]["en"] in slider.help
        assert dimension["high"]["en"] in slider.help
    assert page.slider(key="temperature").value == 0.7
    assert page.number_input(key="max_tokens").value == 512
    assert page.selectbox(key="model").options == [simulator.config.model]  # no persona:…
    # a new conversation opens with the persona's greeting
    assert conversation(page) == [("assistant", chosen["greeting"])]

    other = next(p for p in personas if p["slug"] != picker.value and p["default_traits"])
    page.selectbox(key="persona").set_value(other["slug"]).run()
    for trait_id, level in other["default_traits"].items():
        assert page.slider(key=f"trait_{trait_id}").value == level
    assert conversation(page) == [("assistant", other["greeting"])]


def test_a_sent_message_streams_the_reply_and_lists_the_session(
    page: AppTest, admin: httpx.Client
) -> None:
    name = persona_name(page)

    send(page, "Any idea for a rainy Sunday?")

    assert page.exception == []
    assert errors(page) == []
    shown = conversation(page)
    assert shown[-2] == ("user", "Any idea for a rainy Sunday?")
    assert shown[-1][0] == "assistant"
    assert shown[-1][1].startswith(f'[{name}] You said: "Any idea for a rainy Sunday?"')
    (session,) = sessions(admin)
    assert page.session_state["session_id"] == session["id"]
    assert session_buttons(page) == {session["id"]: "Any idea for a rainy Sunday?"}
    assert [text for _, text in shown] == [m["content"] for m in stored(admin, session["id"])]


def test_every_message_carries_the_sliders_and_the_reply_settings(
    page: AppTest, admin: httpx.Client, simulator: ThreadedSimulator
) -> None:
    page.slider(key="trait_emojis").set_value(5)
    page.slider(key="trait_tone").set_value(1)
    page.slider(key="temperature").set_value(1.25)
    page.number_input(key="max_tokens").set_value(77)
    send(page, "first")
    session_id = page.session_state["session_id"]
    first_traits = admin.get(f"/api/sessions/{session_id}").json()["traits"]
    page.sidebar.radio(key="page").set_value("usage").run()
    page.sidebar.radio(key="page").set_value("chat").run()
    assert page.slider(key="trait_emojis").value == 5  # kept while on another page
    assert page.slider(key="temperature").value == 1.25

    page.slider(key="trait_emojis").set_value(2).run()  # takes effect on the next message
    send(page, "second")

    assert page.session_state["session_id"] == session_id
    assert first_traits["emojis"] == 5
    assert first_traits["tone"] == 1
    assert len(first_traits) == 9  # every slider is sent, not only the moved ones
    assert admin.get(f"/api/sessions/{session_id}").json()["traits"]["emojis"] == 2
    upstream = simulator.recorded_requests()[-1]
    assert upstream["temperature"] == 1.25
    assert upstream["max_tokens"] == 77


def test_an_opened_session_is_shown_as_the_gateway_stores_it(
    page: AppTest, admin: httpx.Client
) -> None:
    traits = {"emojis": 1, "emotion": 5}
    first = admin.post(
        "/api/chat", json={"message": "Where to eat?", "persona": "concierge", "traits": traits}
    ).json()
    admin.post("/api/chat", json={"message": "And after?", "session_id": first["session_id"]})

    page.run()  # the session made elsewhere appears in the sidebar
    page.button(key=f"open_{first['session_id']}").click().run()

    assert page.session_state["session_id"] == first["session_id"]
    assert [text for _, text in conversation(page)] == [
        m["content"] for m in stored(admin, first["session_id"])
    ]
    roles = [role for role, _ in conversation(page)]
    assert roles == ["assistant", "user", "assistant", "user", "assistant"]
    assert page.selectbox(key="persona").value == "concierge"
    assert page.slider(key="trait_emojis").value == 1
    assert page.slider(key="trait_emotion").value == 5


def test_an_interrupted_reply_is_marked_as_such(
    simulator_factory: SimulatorFactory, gateway_factory: GatewayFactory, open_page: PageOpener
) -> None:
    slow = simulator_factory(inter_token_latency=0.05, reply_tokens=400)
    live = gateway_factory(upstream=slow)
    with live.client(live.admin_key) as admin:
        body = {"message": "Tell me a long story", "stream": True}
        with admin.stream("POST", "/api/chat", json=body) as response:
            lines = response.iter_lines()
            session_line = next(line for line in lines if '"session_id"' in line)
            next(line for line in lines if line.startswith("event: delta"))
        session_id = session_line.split('"session_id":"')[1].split('"')[0]
        deadline = time.monotonic() + WAIT_SECONDS
        while len(stored(admin, session_id)) < 3:
            assert time.monotonic() < deadline, "the interrupted reply was never stored"
            time.sleep(0.05)

    page = open_page(live)
    page.button(key=f"open_{session_id}").click().run()

    assert notes(page) == ["(interrupted)"]


def test_regenerate_answers_the_last_message_again_in_place(
    page: AppTest, admin: httpx.Client, simulator: ThreadedSimulator
) -> None:
    send(page, "Name a colour")
    session_id = page.session_state["session_id"]
    before = stored(admin, session_id)
    requests_before = len(simulator.recorded_requests())

    page.button(key="regenerate").click().run()

    assert page.exception == []
    assert errors(page) == []
    after = stored(admin, session_id)
    assert len(simulator.recorded_requests()) == requests_before + 1
    assert [m["role"] for m in after] == ["assistant", "user", "assistant"]
    assert after[-1]["id"] != before[-1]["id"]
    assert after[-1]["status"] == "complete"
    assert [text for _, text in conversation(page)] == [m["content"] for m in after]


def test_new_conversation_returns_to_the_greeting(page: AppTest) -> None:
    greeting = conversation(page)
    send(page, "hello")
    assert len(conversation(page)) == 3

    page.button(key="new_conversation").click().run()

    assert page.session_state["session_id"] is None
    assert conversation(page) == greeting
    assert len(session_buttons(page)) == 1


def test_an_empty_message_is_not_sent(page: AppTest, admin: httpx.Client) -> None:
    send(page, "   ")

    assert warnings(page) == ["The message is empty: nothing was sent."]
    assert sessions(admin) == []


def test_a_message_over_the_limit_is_kept_unsent_and_can_be_sent_again(
    gateway_factory: GatewayFactory, open_page: PageOpener
) -> None:
    live = gateway_factory(max_message_chars=20_000)
    page = open_page(live)
    long = "word " * 4_001  # 20,005 characters

    send(page, long)

    assert any("20005 characters, more than 20000" in w for w in warnings(page))
    assert any("too long" in e and "20000" in e for e in errors(page))
    assert page.text_area(key="unsent_text").value == long
    with live.client(live.admin_key) as admin:
        assert sessions(admin) == []

    page.text_area(key="unsent_text").set_value("a shorter version")
    page.button(key="unsent_retry").click().run()

    assert errors(page) == []
    assert conversation(page)[-2] == ("user", "a shorter version")
    assert 'You said: "a shorter version"' in conversation(page)[-1][1]
    assert [t.key for t in page.text_area] == []


def test_a_long_message_the_gateway_accepts_is_said_to_be_accepted(
    simulator_factory: SimulatorFactory, gateway_factory: GatewayFactory, open_page: PageOpener
) -> None:
    roomy = simulator_factory(max_model_len=200_000)
    page = open_page(gateway_factory(upstream=roomy))

    send(page, "word " * 4_001)

    assert errors(page) == []
    assert [str(i.value) for i in page.info] == [
        "Your long message (20005 characters) was accepted."
    ]
    assert conversation(page)[-1][1].startswith("[")


def test_a_failed_send_keeps_the_message_unsent(
    simulator_factory: SimulatorFactory, gateway_factory: GatewayFactory, open_page: PageOpener
) -> None:
    doomed = simulator_factory()
    page = open_page(gateway_factory(upstream=doomed))
    doomed.stop()

    assert page.chat_input(key="chat_input")  # the page stays usable without the model list

    send(page, "Are you there?")

    (error,) = errors(page)
    assert error.startswith("The inference server is not answering right now.")
    assert page.text_area(key="unsent_text").value == "Are you there?"
    page.button(key="unsent_discard").click().run()
    assert [t.key for t in page.text_area] == []


def test_a_conversation_deleted_elsewhere_returns_to_a_new_one(
    page: AppTest, admin: httpx.Client
) -> None:
    greeting = conversation(page)
    send(page, "hello")
    admin.delete(f"/api/sessions/{page.session_state['session_id']}")  # another tab

    page.run()

    assert any("no longer exists" in w for w in warnings(page))
    assert page.session_state["session_id"] is None
    assert conversation(page) == greeting


def test_a_message_for_a_conversation_deleted_elsewhere_is_kept_unsent(
    page: AppTest, admin: httpx.Client
) -> None:
    greeting = conversation(page)
    send(page, "hello")
    gone = page.session_state["session_id"]
    admin.delete(f"/api/sessions/{gone}")  # another tab

    send(page, "still there?")

    assert any("no longer exists" in w for w in warnings(page))
    assert conversation(page) == greeting
    assert page.text_area(key="unsent_text").value == "still there?"
    assert sessions(admin) == []

    page.button(key="unsent_retry").click().run()  # sent again: a new conversation

    assert conversation(page)[-2] == ("user", "still there?")
    assert page.session_state["session_id"] not in (None, gone)


def test_a_conversation_is_renamed_offered_for_export_and_deleted_after_confirmation(
    page: AppTest, admin: httpx.Client
) -> None:
    send(page, "hello")
    session_id = page.session_state["session_id"]
    (export,) = page.sidebar.get("download_button")
    assert export.proto.label == "Export"

    page.text_input(key=f"rename_{session_id}").input("Rainy Sunday ideas")
    page.button(key="rename_save").click().run()

    assert admin.get(f"/api/sessions/{session_id}").json()["title"] == "Rainy Sunday ideas"
    assert session_buttons(page) == {session_id: "Rainy Sunday ideas"}

    page.button(key="delete").click().run()
    assert [s["id"] for s in sessions(admin)] == [session_id]  # not yet
    assert page.button(key="delete_confirm").label == "Yes, delete it"

    page.button(key="delete_confirm").click().run()

    assert sessions(admin) == []
    assert session_buttons(page) == {}
    assert page.session_state["session_id"] is None
    assert [str(s.value) for s in page.success] == ["The conversation was deleted."]


def test_past_conversations_are_listed_ten_at_a_time(page: AppTest, admin: httpx.Client) -> None:
    made = [admin.post("/api/chat", json={"message": f"n{i}"}).json() for i in range(12)]
    newest_first = [m["session_id"] for m in reversed(made)]

    page.run()
    assert list(session_buttons(page)) == newest_first[:10]
    assert page.button(key="sessions_previous").disabled

    page.button(key="sessions_next").click().run()
    assert list(session_buttons(page)) == newest_first[10:]
    assert page.button(key="sessions_next").disabled

    page.button(key="sessions_previous").click().run()
    assert list(session_buttons(page)) == newest_first[:10]


# -- access, errors, language -----------------------------------------------------------------


def test_the_page_asks_for_a_key_and_refuses_a_bad_one(
    gateway: LiveGateway, open_page: PageOpener
) -> None:
    page = open_page(STREAMLIT_BACKEND_API_URL=gateway.base_url, STREAMLIT_AUTH_REQUIRED="true")
    assert page.text_input(key="sign_in_key").label == "API key"
    assert page.chat_input == []
    assert page.selectbox == []

    page.text_input(key="sign_in_key").input("tt_wrong")
    page.button(key="sign_in_submit").click().run()

    assert errors(page) == ["This API key was refused. Check it and try again."]
    assert page.chat_input == []
    assert page.selectbox == []
    assert page.slider == []

    page.text_input(key="sign_in_key").input(gateway.admin_key)
    page.button(key="sign_in_submit").click().run()

    assert errors(page) == []
    assert page.selectbox(key="persona").label == "Persona"
    assert page.session_state["api_key"] == gateway.admin_key


def test_a_gateway_that_is_down_is_said_in_plain_words(open_page: PageOpener) -> None:
    url = closed_port_url()
    page = open_page(STREAMLIT_BACKEND_API_URL=url, TT_API_KEY="tt_any")

    assert page.exception == []
    assert errors(page) == [f"The gateway cannot be reached at {url}. Is it running?"]


def test_a_key_over_its_limit_is_told_how_long_to_wait(
    gateway_factory: GatewayFactory, open_page: PageOpener
) -> None:
    page = open_page(gateway_factory(key_requests_per_minute=1))

    (error,) = errors(page)
    assert error.startswith("Too many requests: wait ")
    assert error.endswith(" s and try again.")


def test_the_page_speaks_french(gateway: LiveGateway, open_page: PageOpener) -> None:
    page = open_page(gateway, TT_UI_LANG="fr")

    assert page.slider(key="trait_tone").label == "Ton"
    assert "formel" in page.slider(key="trait_tone").help
    assert page.button(key="new_conversation").label == "Nouvelle discussion"
    assert page.chat_input(key="chat_input").placeholder == "Écrivez votre message…"


def test_an_invalid_language_is_a_clear_error(open_page: PageOpener) -> None:
    page = open_page(TT_API_KEY="tt_any", TT_UI_LANG="de")

    assert errors(page) == ["TT_UI_LANG must be 'en' or 'fr', not 'de'"]
    assert page.selectbox == []


def test_without_a_configured_key_the_gateways_admin_key_file_is_used(
    gateway: LiveGateway, open_page: PageOpener
) -> None:
    page = open_page(STREAMLIT_BACKEND_API_URL=gateway.base_url, TT_DATA_DIR=str(gateway.data_dir))
    assert errors(page) == []
    assert page.selectbox(key="persona").label == "Persona"


def test_without_any_key_the_page_says_where_one_is_looked_for(
    open_page: PageOpener, tmp_path: Path
) -> None:
    page = open_page(TT_DATA_DIR=str(tmp_path))
    (error,) = errors(page)
    assert "TT_API_KEY" in error
    assert str(tmp_path / "admin.key") in error


# -- the personas page --------------------------------------------------------------------------


def test_a_persona_is_made_edited_previewed_and_deleted(page: AppTest, admin: httpx.Client) -> None:
    page.sidebar.radio(key="page").set_value("personas").run()
    assert page.selectbox(key="persona_edit").value == "__new__"
    page.text_input(key="pf___new___name").input("Captain Nemo")
    page.text_area(key="pf___new___greeting").input("Welcome aboard.")
    page.text_area(key="pf___new___interests").input("oceans\n\nmachines")
    page.text_area(key="pf___new___appearance").input("avatar: 🐙\ncoat: navy blue")
    page.slider(key="pf___new___trait_vocabulary").set_value(5)
    page.button(key="persona_save").click().run()

    assert errors(page) == []
    nemo = admin.get("/api/personas/captain-nemo").json()
    assert nemo["greeting"] == "Welcome aboard."
    assert nemo["interests"] == ["oceans", "machines"]
    assert nemo["appearance"] == {"avatar": "🐙", "coat": "navy blue"}
    assert nemo["default_traits"] == {"vocabulary": 5}
    assert page.selectbox(key="persona_edit").value == "captain-nemo"
    (prompt,) = page.code
    assert "Captain Nemo" in str(prompt.value)

    page.text_input(key="pf_captain-nemo_tone").input("calm and dry")
    page.slider(key="pf_captain-nemo_trait_emotion").set_value(1).run()
    assert "calm and dry" not in str(page.code[0].value)  # the preview is of the saved sheet
    page.button(key="persona_save").click().run()
    assert admin.get("/api/personas/captain-nemo").json()["tone"] == "calm and dry"
    assert "calm and dry" in str(page.code[0].value)

    page.button(key="persona_delete").click().run()
    assert admin.get("/api/personas/captain-nemo").status_code == 200  # not yet
    page.button(key="persona_delete_confirm").click().run()
    assert admin.get("/api/personas/captain-nemo").status_code == 404
    assert page.selectbox(key="persona_edit").value == "__new__"


def test_a_persona_form_with_problems_is_not_sent_and_a_refusal_is_shown(
    page: AppTest, admin: httpx.Client
) -> None:
    before = admin.get("/api/personas").json()["data"]
    page.sidebar.radio(key="page").set_value("personas").run()
    page.text_area(key="pf___new___appearance").input("just words")
    page.button(key="persona_save").click().run()

    assert errors(page) == [
        "A persona needs a name.",
        "This appearance line is not 'key: value': just words",
    ]

    page.text_area(key="pf___new___appearance").input("eyes: green")
    page.text_input(key="pf___new___name").input("Another Ada")
    page.text_input(key="pf___new___slug").input("tutor")  # taken
    page.button(key="persona_save").click().run()

    (error,) = errors(page)
    assert error.startswith("That clashes with something that exists already.")
    assert admin.get("/api/personas").json()["data"] == before


# -- the usage page -----------------------------------------------------------------------------


def test_usage_shows_the_keys_requests_and_an_admin_may_sum_every_key(
    page: AppTest, gateway: LiveGateway, admin: httpx.Client
) -> None:
    admin.post("/api/chat", json={"message": "one", "persona": "tutor"})
    other = create_key_for(gateway, Scope.CHAT)
    with gateway.client(other) as chat_key:
        for text in ("two", "three"):
            chat_key.post("/api/chat", json={"message": text, "persona": "concierge"})

    page.sidebar.radio(key="page").set_value("usage").run()
    metrics = {str(m.label): str(m.value) for m in page.metric}
    assert metrics["Requests"] == "1"
    assert len(page.get("vega_lite_chart")) == 4

    page.selectbox(key="usage_scope").set_value("all").run()
    assert {str(m.label): str(m.value) for m in page.metric}["Requests"] == "3"


def test_a_key_that_is_not_an_admins_sees_only_its_own_usage(
    gateway: LiveGateway, open_page: PageOpener
) -> None:
    other = create_key_for(gateway, Scope.CHAT)
    page = open_page(STREAMLIT_BACKEND_API_URL=gateway.base_url, TT_API_KEY=other)
    page.sidebar.radio(key="page").set_value("usage").run()

    assert errors(page) == []
    assert [s.key for s in page.selectbox] == []
    assert [str(i.value) for i in page.info] == ["No usage in this period."]


@pytest.mark.parametrize("default", ["seline", "concierge"])
def test_the_chat_page_opens_on_the_gateways_default_persona(
    gateway_factory: GatewayFactory, open_page: PageOpener, default: str
) -> None:
    gateway = gateway_factory(default_persona=default)
    with gateway.client(gateway.admin_key) as admin:
        listing = admin.get("/api/personas").json()
    assert listing["data"][0]["slug"] != default  # not merely the first listed
    assert listing["default"] == default

    page = open_page(gateway)

    assert page.exception == []
    assert page.selectbox(key="persona").value == default


# -- addresses, alternatives, edits and branches ----------------------------------------------


def texts_of(page: AppTest) -> list[str]:
    """The plain texts drawn in the chat bubbles, e.g. a reply's "2/2"."""
    return [str(t.value) for message in page.chat_message for t in message.text]


def test_a_reload_of_the_address_reopens_the_conversation(
    page: AppTest, open_page: PageOpener, gateway: LiveGateway, admin: httpx.Client
) -> None:
    page.selectbox(key="persona").set_value("concierge").run()
    send(page, "Where to eat?")
    session_id = page.session_state["session_id"]
    assert page.query_params == {"session": session_id}
    shown = conversation(page)

    reloaded = open_page(gateway, query=dict(page.query_params))

    assert reloaded.exception == []
    assert warnings(reloaded) == []
    assert reloaded.session_state["session_id"] == session_id
    assert conversation(reloaded) == shown
    assert reloaded.selectbox(key="persona").value == "concierge"
    assert reloaded.query_params == {"session": session_id}

    reloaded.button(key="new_conversation").click().run()
    assert reloaded.query_params == {}
    reloaded.button(key=f"open_{session_id}").click().run()
    assert reloaded.query_params == {"session": session_id}


def test_a_link_to_an_unknown_foreign_or_malformed_conversation_starts_a_new_one(
    gateway: LiveGateway, open_page: PageOpener, admin: httpx.Client
) -> None:
    foreign = admin.post("/api/chat", json={"message": "mine"}).json()["session_id"]
    other_key = create_key_for(gateway, Scope.CHAT)
    links = {
        foreign: "does not exist, or belongs to another key",
        str(uuid.uuid4()): "does not exist, or belongs to another key",
        "not-a-conversation": "does not name a conversation",
    }
    for link, said in links.items():
        page = open_page(
            STREAMLIT_BACKEND_API_URL=gateway.base_url,
            TT_API_KEY=other_key,
            query={"session": link},
        )

        assert page.exception == []
        assert errors(page) == []
        (warning,) = warnings(page)
        assert said in warning
        assert page.session_state["session_id"] is None
        assert [role for role, _ in conversation(page)] == ["assistant"]  # the greeting
        assert page.query_params == {}
    assert [s["id"] for s in sessions(admin)] == [foreign]  # nothing made, nothing taken


def test_regenerate_keeps_the_earlier_reply_and_the_arrows_move_between_them(
    page: AppTest, admin: httpx.Client
) -> None:
    send(page, "Name a colour")
    session_id = page.session_state["session_id"]
    first_reply = stored(admin, session_id)[-1]["id"]
    assert texts_of(page) == []  # one reply: no arrows

    page.button(key="regenerate").click().run()

    assert page.exception == []
    second_reply = stored(admin, session_id)[-1]["id"]
    assert second_reply != first_reply
    assert texts_of(page) == ["2/2"]
    assert page.button(key=f"next_{second_reply}").disabled

    page.button(key=f"previous_{second_reply}").click().run()

    assert errors(page) == []
    assert stored(admin, session_id)[-1]["id"] == first_reply
    assert texts_of(page) == ["1/2"]
    assert page.button(key=f"previous_{first_reply}").disabled
    assert [text for _, text in conversation(page)] == [
        m["content"] for m in stored(admin, session_id)
    ]

    page.button(key=f"next_{first_reply}").click().run()

    assert stored(admin, session_id)[-1]["id"] == second_reply
    assert texts_of(page) == ["2/2"]


def test_an_edited_message_is_sent_as_a_new_branch_and_the_first_stays(
    page: AppTest, admin: httpx.Client, simulator: ThreadedSimulator
) -> None:
    send(page, "first")
    send(page, "second")
    session_id = page.session_state["session_id"]
    before = stored(admin, session_id)
    edited = before[-2]
    assert edited["content"] == "second"

    page.button(key=f"edit_{edited['id']}").click().run()
    assert page.text_area(key=f"edit_text_{edited['id']}").value == "second"
    page.text_area(key=f"edit_text_{edited['id']}").set_value("second, said better")
    page.button(key=f"edit_send_{edited['id']}").click().run()

    assert page.exception == []
    assert errors(page) == []
    after = stored(admin, session_id)
    assert [m["id"] for m in after[:-2]] == [m["id"] for m in before[:-2]]
    assert after[-2]["content"] == "second, said better"
    assert after[-2]["parent_id"] == edited["parent_id"]
    assert after[-2]["sibling_ids"] == [edited["id"], after[-2]["id"]]
    assert 'You said: "second, said better"' in after[-1]["content"]
    upstream = [m["content"] for m in simulator.recorded_requests()[-1]["messages"]]
    assert "second" not in upstream  # the upstream got the new path only
    assert [text for _, text in conversation(page)] == [m["content"] for m in after]
    assert texts_of(page) == ["2/2"]  # on the edited message

    page.button(key=f"previous_{after[-2]['id']}").click().run()
    assert [m["id"] for m in stored(admin, session_id)] == [m["id"] for m in before]


def test_branch_from_here_opens_a_new_conversation_with_the_path_so_far(
    page: AppTest, admin: httpx.Client
) -> None:
    send(page, "first")
    send(page, "second")
    source_id = page.session_state["session_id"]
    source = stored(admin, source_id)
    first_reply = source[2]

    page.button(key=f"branch_{first_reply['id']}").click().run()

    assert page.exception == []
    assert errors(page) == []
    branch_id = page.session_state["session_id"]
    assert branch_id != source_id
    assert page.query_params == {"session": branch_id}
    branch = stored(admin, branch_id)
    assert [m["content"] for m in branch] == [m["content"] for m in source[:3]]
    assert [text for _, text in conversation(page)] == [m["content"] for m in branch]
    assert set(session_buttons(page)) == {source_id, branch_id}
    assert stored(admin, source_id) == source  # the source is left as it was

    send(page, "third, on the branch")
    assert [m["content"] for m in stored(admin, branch_id)][3] == "third, on the branch"
    assert len(stored(admin, source_id)) == len(source)
