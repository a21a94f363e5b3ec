"""The chat page's `GatewayClient` against a live gateway: every call, and each way a call
fails as one `GatewayProblem` kind."""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.integration.conftest import GatewayFactory, SimulatorFactory
from tests.integration.live_servers import LiveGateway, ThreadedSimulator, create_key_for
from thinkingthoughts.access.api_keys import Scope
from thinkingthoughts.ui.gateway import ChatOutcome, GatewayClient
from thinkingthoughts.ui.gateway_problems import GatewayProblem

WAIT_SECONDS = 20.0


@pytest.fixture
def ui_client(gateway: LiveGateway) -> Iterator[GatewayClient]:
    with GatewayClient(gateway.base_url, gateway.admin_key) as client:
        yield client


def closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def problem_of(call: Any) -> GatewayProblem:
    with pytest.raises(GatewayProblem) as caught:
        call()
    return caught.value


def stored_messages(admin: httpx.Client, session_id: str) -> list[dict[str, Any]]:
    messages = admin.get(f"/api/sessions/{session_id}", params={"limit": 500}).json()["messages"]
    return list(messages)


def test_personas_are_listed_read_created_replaced_and_deleted(
    ui_client: GatewayClient,
) -> None:
    slugs = [p["slug"] for p in ui_client.personas()]
    assert {"seline", "tutor", "concierge"} <= set(slugs)
    assert ui_client.persona("tutor")["name"] == "Professor Ada"

    sheet = {"name": "Captain Nemo", "slug": "nemo", "greeting": "Welcome aboard."}
    created = ui_client.create_persona(sheet)
    assert (created["slug"], created["greeting"]) == ("nemo", "Welcome aboard.")
    replaced = ui_client.replace_persona("nemo", {**sheet, "tone": "calm and dry"})
    assert replaced["tone"] == "calm and dry"
    assert ui_client.persona("nemo")["tone"] == "calm and dry"

    ui_client.delete_persona("nemo")
    assert "nemo" not in [p["slug"] for p in ui_client.personas()]
    assert problem_of(lambda: ui_client.persona("nemo")).kind == "gone"


def test_preview_compiles_the_prompt_for_the_given_levels(ui_client: GatewayClient) -> None:
    preview = ui_client.preview("tutor", {"emotion": 5, "tone": 1})
    assert preview["persona"] == "tutor"
    assert preview["traits"]["emotion"] == 5
    assert preview["traits"]["tone"] == 1
    assert "Professor Ada" in preview["system_prompt"]


def test_the_trait_catalog_lists_nine_dimensions_in_both_languages(
    ui_client: GatewayClient,
) -> None:
    dimensions = ui_client.traits()["dimensions"]
    assert len(dimensions) == 9
    assert all({"en", "fr"} <= set(d["label"]) for d in dimensions)


def test_models_are_the_upstream_ones_without_persona_models(
    ui_client: GatewayClient, simulator: ThreadedSimulator, admin: httpx.Client
) -> None:
    listed = [m["id"] for m in admin.get("/v1/models").json()["data"]]
    assert any(m.startswith("persona:") for m in listed)
    assert ui_client.models() == [simulator.config.model]


def test_a_streamed_turn_yields_the_reply_and_remembers_its_ids_and_usage(
    ui_client: GatewayClient, admin: httpx.Client
) -> None:
    seen_at_start: list[tuple[str | None, int]] = []
    deltas: list[str] = []

    def on_start(outcome: ChatOutcome) -> None:
        seen_at_start.append((outcome.session_id, len(deltas)))

    for delta in ui_client.stream_chat(
        message="Any idea for a rainy Sunday?",
        persona="tutor",
        traits={"emojis": 4},
        temperature=0.3,
        max_tokens=64,
        on_start=on_start,
    ):
        deltas.append(delta)

    outcome = ui_client.last_chat
    assert outcome is not None
    assert outcome.session_id is not None
    assert len(deltas) > 1
    reply = "".join(deltas)
    assert reply.startswith('[Professor Ada] You said: "Any idea for a rainy Sunday?"')
    assert seen_at_start == [(outcome.session_id, 0)]  # known before the first delta
    assert outcome.finished
    assert outcome.finish_reason == "stop"
    assert outcome.usage is not None
    assert outcome.usage["completion_tokens"] > 0
    stored = stored_messages(admin, outcome.session_id)
    assert stored[-1]["content"] == reply
    assert stored[-1]["id"] == outcome.message_id
    session = admin.get(f"/api/sessions/{outcome.session_id}").json()
    assert session["persona"] == "tutor"
    assert session["traits"]["emojis"] == 4


def test_a_second_turn_continues_the_session(ui_client: GatewayClient) -> None:
    list(ui_client.stream_chat(message="first"))
    first = ui_client.last_chat
    assert first is not None
    assert first.session_id is not None
    list(ui_client.stream_chat(message="second", session_id=first.session_id))
    second = ui_client.last_chat
    assert second is not None
    assert second.session_id == first.session_id
    roles = [m["role"] for m in ui_client.read_session(first.session_id)["messages"]]
    assert roles == ["assistant", "user", "assistant", "user", "assistant"]


def test_sessions_are_listed_newest_first_read_whole_renamed_exported_and_deleted(
    ui_client: GatewayClient, admin: httpx.Client
) -> None:
    ids = []
    for text in ("one", "two", "three"):
        ids.append(admin.post("/api/chat", json={"message": text}).json()["session_id"])
    admin.post("/api/chat", json={"message": "again", "session_id": ids[0]})

    page = ui_client.sessions(limit=2, offset=0)
    assert page["total"] == 3
    assert [s["id"] for s in page["data"]] == [ids[0], ids[2]]  # the last active first
    assert [s["id"] for s in ui_client.sessions(limit=2, offset=2)["data"]] == [ids[1]]

    whole = ui_client.read_session(ids[0], page_size=2)  # five messages, three pages
    assert [m["id"] for m in whole["messages"]] == [m["id"] for m in stored_messages(admin, ids[0])]
    assert len(whole["messages"]) == whole["messages_total"] == 5

    assert ui_client.rename_session(ids[0], "Rainy Sunday ideas")["title"] == "Rainy Sunday ideas"
    markdown = ui_client.export_markdown(ids[0])
    assert markdown.startswith("# Rainy Sunday ideas")
    assert "again" in markdown

    ui_client.delete_session(ids[0])
    assert problem_of(lambda: ui_client.read_session(ids[0])).kind == "gone"
    assert ui_client.sessions()["total"] == 2


def test_me_usage_and_keys_describe_the_key(ui_client: GatewayClient, gateway: LiveGateway) -> None:
    list(ui_client.stream_chat(message="count me", persona="concierge"))
    me = ui_client.me()
    assert "admin" in me["scopes"]
    usage = ui_client.usage(days=30)
    assert usage["key_id"] == me["id"]
    assert usage["totals"]["requests"] >= 1
    assert "concierge" in {row["persona"] for row in usage["rows"]}
    other = create_key_for(gateway, Scope.CHAT)
    keys = ui_client.api_keys()
    assert me["id"] in {k["id"] for k in keys}
    assert len(keys) == 2
    other_id = next(k["id"] for k in keys if k["id"] != me["id"])
    assert ui_client.usage(other_id, days=7)["totals"]["requests"] == 0
    with GatewayClient(gateway.base_url, other) as chat_key:
        assert chat_key.me()["scopes"] == ["chat"]
        assert problem_of(chat_key.api_keys).kind == "forbidden"


def test_regenerate_adds_a_reply_beside_the_first_and_either_can_be_selected(
    ui_client: GatewayClient, admin: httpx.Client
) -> None:
    list(ui_client.stream_chat(message="Name a colour"))
    first = ui_client.last_chat
    assert first is not None
    assert first.session_id is not None
    question = stored_messages(admin, first.session_id)[-2]
    assert first.user_message_id == question["id"]

    again = "".join(ui_client.stream_chat(session_id=first.session_id, regenerate=True))

    second = ui_client.last_chat
    assert second is not None
    assert second.message_id != first.message_id
    assert second.user_message_id == question["id"]
    assert 'You said: "Name a colour"' in again
    stored = stored_messages(admin, first.session_id)
    assert [m["role"] for m in stored] == ["assistant", "user", "assistant"]
    assert stored[-1]["id"] == second.message_id
    assert stored[-1]["sibling_ids"] == [first.message_id, second.message_id]

    assert first.message_id is not None
    session = ui_client.select_message(first.session_id, first.message_id)

    assert session["id"] == first.session_id
    assert session["active_leaf_id"] == first.message_id
    assert [m["id"] for m in session["messages"]] == [
        m["id"] for m in stored_messages(admin, first.session_id)
    ]
    assert session["messages"][-1]["sibling_index"] == 0
    unknown = problem_of(lambda: ui_client.select_message(first.session_id, str(uuid.uuid4())))
    assert (unknown.kind, unknown.code) == ("gone", "message_not_found")


def test_a_message_sent_after_an_earlier_one_branches_and_a_fork_copies_a_path(
    ui_client: GatewayClient, admin: httpx.Client
) -> None:
    list(ui_client.stream_chat(message="one"))
    session_id = ui_client.last_chat.session_id if ui_client.last_chat else None
    assert session_id is not None
    list(ui_client.stream_chat(message="two", session_id=session_id))
    before = stored_messages(admin, session_id)
    first_reply = before[2]

    list(
        ui_client.stream_chat(
            message="two, again", session_id=session_id, parent_id=first_reply["id"]
        )
    )

    after = stored_messages(admin, session_id)
    assert [m["content"] for m in after[:3]] == [m["content"] for m in before[:3]]
    assert after[3]["content"] == "two, again"
    assert after[3]["parent_id"] == first_reply["id"]
    assert after[3]["sibling_ids"] == [before[3]["id"], after[3]["id"]]

    forked = ui_client.fork_session(session_id, first_reply["id"])

    assert forked["id"] != session_id
    assert [m["content"] for m in forked["messages"]] == [m["content"] for m in after[:3]]
    assert ui_client.read_session(forked["id"])["messages"] == forked["messages"]
    assert len(stored_messages(admin, session_id)) == len(after)


def test_a_named_model_is_asked_for_and_an_unknown_one_refused(
    ui_client: GatewayClient, simulator: ThreadedSimulator
) -> None:
    list(ui_client.stream_chat(message="hi", model=simulator.config.model))
    assert ui_client.last_chat is not None
    assert ui_client.last_chat.model == simulator.config.model
    assert simulator.recorded_requests()[-1]["model"] == simulator.config.model

    refused = problem_of(lambda: list(ui_client.stream_chat(message="hi", model="no-such")))
    assert (refused.kind, refused.status, refused.code) == ("gone", 404, "model_not_found")


def test_closing_the_stream_early_leaves_an_interrupted_reply(
    simulator_factory: SimulatorFactory, gateway_factory: GatewayFactory
) -> None:
    slow = simulator_factory(inter_token_latency=0.05, reply_tokens=400)
    live = gateway_factory(upstream=slow)
    with (
        GatewayClient(live.base_url, live.admin_key) as client,
        live.client(live.admin_key) as admin,
    ):
        deltas = client.stream_chat(message="a long story, please")
        first = next(deltas)
        deltas.close()  # what a Stop does: the page's rerun closes the stream
        outcome = client.last_chat
        assert outcome is not None
        assert outcome.session_id is not None
        deadline = time.monotonic() + WAIT_SECONDS
        while len(stored_messages(admin, outcome.session_id)) < 3:
            assert time.monotonic() < deadline, "the interrupted reply was never stored"
            time.sleep(0.05)
        reply = stored_messages(admin, outcome.session_id)[-1]
    assert reply["status"] == "interrupted"
    assert reply["content"].startswith(first)
    assert not outcome.finished


def test_an_unreachable_gateway_is_one_problem_kind() -> None:
    with GatewayClient(closed_port_url(), "tt_any") as client:
        refused = problem_of(client.personas)
        streamed = problem_of(lambda: list(client.stream_chat(message="hi")))
    assert (refused.kind, refused.code) == ("unreachable", "refused")
    assert "cannot be reached at http://127.0.0.1:" in refused.message
    assert streamed.kind == "unreachable"


def test_a_refused_key_is_unauthorized(gateway: LiveGateway) -> None:
    with GatewayClient(gateway.base_url, "tt_not_a_key") as client:
        problem = problem_of(client.me)
        streamed = problem_of(lambda: list(client.stream_chat(message="hi")))
    assert (problem.kind, problem.status) == ("unauthorized", 401)
    assert problem.message == "The API key was refused."
    assert streamed.kind == "unauthorized"


def test_a_deleted_session_is_gone_when_read_and_its_id_starts_afresh(
    ui_client: GatewayClient, admin: httpx.Client
) -> None:
    session_id = admin.post("/api/chat", json={"message": "hello"}).json()["session_id"]
    admin.delete(f"/api/sessions/{session_id}")
    read = problem_of(lambda: ui_client.read_session(session_id))
    assert (read.kind, read.status, read.code) == ("gone", 404, "session_not_found")

    # An unknown, well-formed id names a new session of the caller's: nothing comes back.
    list(ui_client.stream_chat(message="hi", session_id=session_id))

    assert ui_client.last_chat is not None
    assert ui_client.last_chat.session_id == session_id
    users = [m for m in stored_messages(admin, session_id) if m["role"] == "user"]
    assert [m["content"] for m in users] == ["hi"]


def test_too_many_requests_says_how_long_to_wait(gateway_factory: GatewayFactory) -> None:
    live = gateway_factory(key_requests_per_minute=1)
    with GatewayClient(live.base_url, live.admin_key) as client:
        client.personas()
        listed = problem_of(client.personas)
        streamed = problem_of(lambda: list(client.stream_chat(message="hi")))
    assert (listed.kind, listed.status) == ("rate_limited", 429)
    assert listed.retry_after is not None
    assert 0 < listed.retry_after <= 60
    assert f"wait {int(listed.retry_after)} second" in listed.message
    assert streamed.kind == "rate_limited"


def test_a_message_too_long_is_refused_as_too_long(gateway_factory: GatewayFactory) -> None:
    live = gateway_factory(max_message_chars=50)
    with GatewayClient(live.base_url, live.admin_key) as client:
        problem = problem_of(lambda: list(client.stream_chat(message="x" * 51)))
    assert (problem.kind, problem.status, problem.code) == ("too_long", 413, "message_too_long")
    assert problem.detail is not None
    assert "50" in problem.detail


def test_an_invalid_request_carries_the_gateways_reason(ui_client: GatewayClient) -> None:
    problem = problem_of(lambda: list(ui_client.stream_chat(message="hi", traits={"tone": 9})))
    assert (problem.kind, problem.status) == ("invalid", 422)
    assert problem.detail is not None
    assert "tone" in problem.detail
    taken = problem_of(lambda: ui_client.create_persona({"name": "Again", "slug": "tutor"}))
    assert taken.kind == "conflict"


def test_an_inference_server_that_is_down_is_an_upstream_problem(
    simulator_factory: SimulatorFactory, gateway_factory: GatewayFactory
) -> None:
    doomed = simulator_factory()
    live = gateway_factory(upstream=doomed)
    doomed.stop()
    with GatewayClient(live.base_url, live.admin_key) as client:
        problem = problem_of(lambda: list(client.stream_chat(message="hi")))
    assert problem.kind == "upstream"
    assert problem.status in (502, 503, 504)


def test_an_inference_server_failing_mid_reply_is_an_upstream_problem(
    simulator_factory: SimulatorFactory, gateway_factory: GatewayFactory
) -> None:
    dropping = simulator_factory(drop_rate=1.0, reply_tokens=64)
    live = gateway_factory(upstream=dropping)
    with GatewayClient(live.base_url, live.admin_key) as client:
        problem = problem_of(lambda: list(client.stream_chat(message="hi")))
        outcome = client.last_chat
    assert problem.kind == "upstream"
    assert outcome is not None
    assert outcome.started
