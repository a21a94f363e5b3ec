"""`POST /api/chat` over real HTTP, against the simulator and a real database."""

from __future__ import annotations

from typing import Any

import httpx

from tests.integration.conftest import GatewayFactory, SimulatorFactory
from tests.integration.live_servers import LiveGateway, ThreadedSimulator
from thinkingthoughts.personas.catalog import load_trait_catalog


def level_sentence(trait_id: str, level: int, locale: str = "en") -> str:
    dimension = load_trait_catalog().get(trait_id)
    assert dimension is not None
    return dimension.levels[locale][level - 1]


def _system_prompt(request: dict[str, Any]) -> str:
    first = request["messages"][0]
    assert first["role"] == "system"
    return str(first["content"])


def test_reply_is_shaped_by_the_default_persona_and_stored(
    admin: httpx.Client, simulator: ThreadedSimulator
) -> None:
    response = admin.post("/api/chat", json={"message": "Tell me about rainy days"})

    assert response.status_code == 200
    body = response.json()
    assert body["assistant"].startswith('[Seline] You said: "Tell me about rainy days"')
    assert body["persona"] == "seline"
    assert body["usage"]["completion_tokens"] > 0
    assert body["usage"]["total_tokens"] == (
        body["usage"]["prompt_tokens"] + body["usage"]["completion_tokens"]
    )
    stored = admin.get(f"/api/sessions/{body['session_id']}").json()
    assert [m["role"] for m in stored["messages"]] == ["assistant", "user", "assistant"]
    assert stored["messages"][0]["content"]  # the persona's greeting opens the session
    assert stored["messages"][1]["content"] == "Tell me about rainy days"
    assert (
        stored["messages"][2] | {"content": body["assistant"], "status": "complete"}
        == (stored["messages"][2])
    )
    assert stored["messages"][2]["id"] == body["message_id"]
    assert [m["seq"] for m in stored["messages"]] == [1, 2, 3]


def test_a_chosen_persona_and_traits_reach_the_system_prompt(
    admin: httpx.Client, simulator: ThreadedSimulator
) -> None:
    response = admin.post(
        "/api/chat", json={"message": "hello", "persona": "tutor", "traits": {"emojis": 5}}
    )

    assert response.status_code == 200
    prompt = _system_prompt(simulator.recorded_requests()[-1])
    assert level_sentence("emojis", 5) in prompt
    assert level_sentence("emojis", 1) not in prompt
    tutor = admin.get("/api/personas/tutor").json()
    assert tutor["name"] in prompt
    assert response.json()["assistant"].startswith(f"[{tutor['name']}]")


def test_a_session_continues_with_its_history_and_remembers_traits(
    admin: httpx.Client, simulator: ThreadedSimulator
) -> None:
    first = admin.post("/api/chat", json={"message": "one", "traits": {"tone": 1}}).json()
    second = admin.post("/api/chat", json={"message": "two", "session_id": first["session_id"]})

    assert second.status_code == 200
    assert second.json()["session_id"] == first["session_id"]
    sent = simulator.recorded_requests()[-1]["messages"]
    # system, greeting, one, first reply, two
    assert [m["role"] for m in sent] == ["system", "assistant", "user", "assistant", "user"]
    assert sent[-1]["content"] == "two"
    assert level_sentence("tone", 1) in sent[0]["content"]
    session = admin.get(f"/api/sessions/{first['session_id']}").json()
    assert session["traits"] == {"tone": 1}
    assert session["message_count"] == 5


def test_stateless_call_with_history_stores_nothing(
    admin: httpx.Client, simulator: ThreadedSimulator
) -> None:
    response = admin.post(
        "/api/chat",
        json={
            "message": "and now?",
            "history": [
                {"role": "user", "content": "before"},
                {"role": "assistant", "content": "noted"},
            ],
            "sliders": {"initiative": 2},
        },
    )

    assert response.status_code == 200
    assert response.json()["session_id"] is None
    assert response.json()["message_id"] is None
    sent = simulator.recorded_requests()[-1]["messages"]
    assert [m["content"] for m in sent[1:]] == ["before", "noted", "and now?"]
    assert admin.get("/api/sessions").json()["total"] == 0


def test_sampling_parameters_pass_through(
    admin: httpx.Client, simulator: ThreadedSimulator
) -> None:
    admin.post(
        "/api/chat",
        json={"message": "hi", "temperature": 0.3, "top_p": 0.9, "max_tokens": 7},
    )
    sent = simulator.recorded_requests()[-1]
    assert (sent["temperature"], sent["top_p"], sent["max_tokens"]) == (0.3, 0.9, 7)


def test_a_max_tokens_beyond_the_context_is_lowered_to_the_room_left(
    gateway_factory: GatewayFactory, simulator_factory: SimulatorFactory
) -> None:
    small = simulator_factory(max_model_len=2048)
    live = gateway_factory(upstream=small)
    with live.client(live.admin_key) as client:
        answer = client.post("/api/chat", json={"message": "hi", "max_tokens": 999_999})
    assert answer.status_code == 200, answer.text
    sent = small.recorded_requests()[-1]
    prompt = sum(len(m["content"]) for m in sent["messages"]) // 4  # at least this many tokens
    assert 1 <= sent["max_tokens"] <= 2048 - prompt


def test_conversation_survives_a_gateway_restart(gateway_factory: GatewayFactory) -> None:
    first = gateway_factory()
    with first.client(first.admin_key) as client:
        session_id = client.post("/api/chat", json={"message": "remember me"}).json()["session_id"]
    first.server.stop()

    second = gateway_factory()
    assert second.admin_key == first.admin_key  # the first start's key is kept
    assert second.announcements == []  # and not printed again
    with second.client(second.admin_key) as client:
        session = client.get(f"/api/sessions/{session_id}").json()
    assert session["messages"][1]["content"] == "remember me"
    assert session["messages"][2]["status"] == "complete"


def test_first_start_announces_the_admin_key(gateway: LiveGateway) -> None:
    assert len(gateway.announcements) == 1
    assert gateway.admin_key in gateway.announcements[0]


def test_old_turns_are_kept_but_only_the_tail_that_fits_is_sent(
    simulator_factory: SimulatorFactory, gateway_factory: GatewayFactory
) -> None:
    small = simulator_factory(max_model_len=1500, reply_tokens=8)
    live = gateway_factory(upstream=small, max_tokens=8)
    filler = "word " * 60
    with live.client(live.admin_key) as client:
        session_id = client.post("/api/chat", json={"message": filler}).json()["session_id"]
        for _ in range(8):
            response = client.post("/api/chat", json={"message": filler, "session_id": session_id})
            assert response.status_code == 200
        stored = client.get(f"/api/sessions/{session_id}").json()

    sent = small.recorded_requests()[-1]["messages"]
    assert stored["message_count"] == 1 + 9 * 2
    assert 2 < len(sent) < stored["message_count"] + 1
    assert sent[-1]["content"] == filler
    assert sent[0]["role"] == "system"


def test_a_message_too_long_for_the_model_is_refused_before_anything_is_stored(
    simulator_factory: SimulatorFactory, gateway_factory: GatewayFactory
) -> None:
    small = simulator_factory(max_model_len=600)
    live = gateway_factory(upstream=small, max_tokens=16)
    with live.client(live.admin_key) as client:
        created = client.post("/api/chat", json={"message": "short"}).json()
        before = client.get(f"/api/sessions/{created['session_id']}").json()["message_count"]
        response = client.post(
            "/api/chat",
            json={"message": "long " * 2000, "session_id": created["session_id"]},
        )
        after = client.get(f"/api/sessions/{created['session_id']}").json()["message_count"]

    assert response.status_code == 413
    assert response.json()["error"]["code"] == "context_length_exceeded"
    assert after == before


def test_history_the_estimate_undercounts_is_trimmed_by_the_exact_count(
    simulator_factory: SimulatorFactory, gateway_factory: GatewayFactory, simulator: Any
) -> None:
    """Punctuation costs a token per character upstream, a third of one in the estimate: the
    estimate says everything fits, the upstream's tokenizer says it does not."""
    probe = gateway_factory()
    with probe.client(probe.admin_key) as client:
        prompt = client.post("/api/personas/seline/preview", json={}).json()["system_prompt"]
    probe.server.stop()
    system = [{"role": "system", "content": prompt}]
    exact_system = httpx.post(simulator.root_url + "/tokenize", json={"messages": system}).json()
    noisy = "!" * 100  # 100 tokens upstream, 34 estimated
    history = [{"role": "user" if i % 2 == 0 else "assistant", "content": noisy} for i in range(21)]
    exact_all = exact_system["count"] + len(history) * (100 + 4)
    reply_tokens = 8
    tight = simulator_factory(max_model_len=exact_all - 1 + reply_tokens, reply_tokens=8)
    live = gateway_factory(upstream=tight, max_tokens=reply_tokens)

    with live.client(live.admin_key) as client:
        response = client.post("/api/chat", json={"messages": history})

    assert response.status_code == 200, response.text
    sent = tight.recorded_requests()[-1]["messages"]
    assert 2 <= len(sent) < 1 + len(history)
    assert sent[-1]["content"] == noisy
    assert response.json()["usage"]["prompt_tokens"] <= exact_all - 1


def test_regenerate_answers_the_last_message_again_as_a_swipe(
    admin: httpx.Client, simulator: ThreadedSimulator
) -> None:
    first = admin.post("/api/chat", json={"message": "Name a colour"}).json()
    session_id = first["session_id"]

    again = admin.post("/api/chat", json={"session_id": session_id, "regenerate": True})

    assert again.status_code == 200, again.text
    assert again.json()["message_id"] != first["message_id"]
    assert 'You said: "Name a colour"' in again.json()["assistant"]
    messages = admin.get(f"/api/sessions/{session_id}").json()["messages"]
    assert [(m["role"], m["id"]) for m in messages][1:] == [
        ("user", messages[1]["id"]),
        ("assistant", again.json()["message_id"]),
    ]
    # The first reply is kept beside it, as an alternative.
    assert messages[2]["sibling_ids"] == [first["message_id"], again.json()["message_id"]]
    assert simulator.recorded_requests()[-1]["messages"][-1] == {
        "role": "user",
        "content": "Name a colour",
    }


def test_regenerate_streams_and_refuses_what_it_cannot_do(admin: httpx.Client) -> None:
    session_id = admin.post("/api/chat", json={"message": "Hello"}).json()["session_id"]
    with admin.stream(
        "POST", "/api/chat", json={"session_id": session_id, "regenerate": True, "stream": True}
    ) as streamed:
        body = streamed.read().decode()
    assert streamed.status_code == 200
    assert "event: done" in body
    assert admin.get(f"/api/sessions/{session_id}").json()["message_count"] == 3

    for bad in (
        {"regenerate": True},
        {"regenerate": True, "session_id": session_id, "message": "extra"},
    ):
        assert admin.post("/api/chat", json=bad).status_code == 422
    missing = admin.post(
        "/api/chat",
        json={"regenerate": True, "session_id": "00000000-0000-4000-8000-00000000abcd"},
    )
    assert missing.status_code == 404
    not_an_id = admin.post("/api/chat", json={"regenerate": True, "session_id": "nope"})
    assert not_an_id.status_code == 400
    assert not_an_id.json()["error"]["code"] == "invalid_session_id"
    assert admin.get(f"/api/sessions/{session_id}").json()["message_count"] == 3


def test_a_named_upstream_model_is_used_and_an_unknown_one_refused(
    admin: httpx.Client, simulator: ThreadedSimulator
) -> None:
    served = simulator.config.model
    answer = admin.post("/api/chat", json={"message": "hi", "model": served})
    assert answer.status_code == 200
    assert answer.json()["model"] == served

    sessions_before = admin.get("/api/sessions").json()["total"]
    refused = admin.post("/api/chat", json={"message": "hi", "model": "no-such-model"})
    assert refused.status_code == 404
    assert refused.json()["error"]["code"] == "model_not_found"
    assert admin.get("/api/sessions").json()["total"] == sessions_before
