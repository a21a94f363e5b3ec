"""OpenAI's Responses API, driven by the official `openai` SDK over real HTTP against the
simulator: create (whole and streamed), retrieve, chains and branches, persona models,
`store: false`, and refusals in OpenAI's error shape."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
from openai import OpenAI
from openai.types.responses import ResponseCompletedEvent

from tests.integration.conftest import GatewayFactory, SimulatorFactory
from tests.integration.live_servers import LiveGateway, ThreadedSimulator
from tests.integration.test_chat_api import level_sentence
from tests.integration.test_tenancy import assert_openai_error, new_key


def sdk(gateway: LiveGateway, key: str | None = None) -> OpenAI:
    return OpenAI(base_url=gateway.base_url + "/v1", api_key=key or gateway.admin_key,
                  max_retries=0)  # fmt: skip


@pytest.fixture
def client(gateway: LiveGateway) -> Iterator[OpenAI]:
    with sdk(gateway) as client:
        yield client


def test_a_response_answers_the_input_as_openai_shapes_it(
    client: OpenAI, simulator: ThreadedSimulator
) -> None:
    response = client.responses.create(
        model="thinkingthoughts-sim", input="hello there", metadata={"ticket": "42"}
    )

    assert response.id.startswith("resp_")
    assert response.object == "response"
    assert response.status == "completed"
    assert response.model == "thinkingthoughts-sim"
    assert response.output_text.startswith('[assistant] You said: "hello there"')
    [message] = response.output
    assert message.type == "message"
    assert message.role == "assistant"
    assert message.content[0].type == "output_text"
    assert message.content[0].annotations == []
    assert response.usage is not None
    assert response.usage.output_tokens > 0
    assert response.usage.total_tokens == (
        response.usage.input_tokens + response.usage.output_tokens
    )
    assert response.to_dict()["store"] is True
    assert response.metadata == {"ticket": "42"}
    assert response.previous_response_id is None
    sent = simulator.recorded_requests()[-1]
    assert sent["messages"] == [{"role": "user", "content": "hello there"}]
    assert "input" not in sent
    assert "metadata" not in sent


def test_a_persona_model_puts_its_prompt_first_then_the_instructions(
    client: OpenAI, simulator: ThreadedSimulator
) -> None:
    response = client.responses.create(
        model="persona:tutor",
        instructions="Answer briefly.",
        input=[{"role": "user", "content": [{"type": "input_text", "text": "hello there"}]}],
        temperature=0.2,
        top_p=0.5,
        max_output_tokens=50,
        extra_body={"traits": {"emojis": 5}},
    )

    assert response.model == "persona:tutor"
    assert response.instructions == "Answer briefly."
    assert 'You said: "hello there"' in response.output_text
    sent = simulator.recorded_requests()[-1]
    assert sent["model"] == "thinkingthoughts-sim"
    assert [m["role"] for m in sent["messages"]] == ["system", "system", "user"]
    assert level_sentence("emojis", 5) in sent["messages"][0]["content"]
    assert sent["messages"][1]["content"] == "Answer briefly."
    assert (sent["temperature"], sent["top_p"], sent["max_tokens"]) == (0.2, 0.5, 50)


def test_a_streamed_response_sends_openais_events_in_order(client: OpenAI) -> None:
    events = list(client.responses.create(model="persona:seline", input="hello there",
                                          stream=True))  # fmt: skip

    kinds = [event.type for event in events]
    assert kinds[:4] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
    ]
    deltas = [e for e in events if e.type == "response.output_text.delta"]
    assert len(deltas) > 1
    assert kinds[4 : 4 + len(deltas)] == ["response.output_text.delta"] * len(deltas)
    assert kinds[4 + len(deltas) :] == [
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [event.sequence_number for event in events] == list(range(len(events)))
    text = "".join(delta.delta for delta in deltas)
    assert text.startswith('[Seline] You said: "hello there"')
    completed = events[-1]
    assert completed.type == "response.completed"
    assert completed.response.output_text == text
    assert completed.response.model == "persona:seline"
    assert completed.response.usage is not None
    assert completed.response.usage.output_tokens > 0
    assert events[0].type == "response.created"
    assert events[0].response.id == completed.response.id
    assert events[0].response.status == "in_progress"


def test_a_stored_response_is_retrieved_as_it_was_answered(client: OpenAI) -> None:
    created = client.responses.create(model="persona:seline", input="hello there")
    streamed = list(client.responses.create(model="persona:seline", input="again", stream=True))

    retrieved = client.responses.retrieve(created.id)
    assert retrieved.id == created.id
    assert retrieved.output_text == created.output_text
    assert retrieved.status == "completed"
    assert retrieved.model == "persona:seline"
    assert retrieved.usage == created.usage
    last = streamed[-1]
    assert last.type == "response.completed"
    assert client.responses.retrieve(last.response.id).output_text == last.response.output_text


def test_a_response_not_stored_cannot_be_retrieved(client: OpenAI, gateway: LiveGateway) -> None:
    with gateway.client(gateway.admin_key) as admin:
        sessions_before = admin.get("/api/sessions").json()
    response = client.responses.create(model="persona:seline", input="hi", store=False)

    assert response.to_dict()["store"] is False
    assert response.output_text
    with pytest.raises(openai.NotFoundError) as caught:
        client.responses.retrieve(response.id)
    assert caught.value.response.json()["error"]["code"] == "response_not_found"
    with gateway.client(gateway.admin_key) as admin:
        assert admin.get("/api/sessions").json() == sessions_before


def test_a_stored_response_starts_a_session_of_the_callers(
    client: OpenAI, gateway: LiveGateway
) -> None:
    response = client.responses.create(model="persona:seline", input="hello there")
    with gateway.client(gateway.admin_key) as admin:
        [listed] = admin.get("/api/sessions").json()["data"]
        session = admin.get(f"/api/sessions/{listed['id']}").json()
    assert [(m["role"], m["content"]) for m in session["messages"][-2:]] == [
        ("user", "hello there"),
        ("assistant", response.output_text),
    ]


@pytest.mark.parametrize("response_id", ["resp_nothing", "resp_" + "0" * 32, "msg_x"])
def test_retrieving_an_unknown_response_is_openais_404(client: OpenAI, response_id: str) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        client.responses.retrieve(response_id)
    error = caught.value.response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == "invalid_request_error"
    assert response_id in error["message"]


def test_another_owners_response_is_not_found(gateway: LiveGateway, client: OpenAI) -> None:
    created = client.responses.create(model="persona:seline", input="mine")
    with gateway.client(gateway.admin_key) as admin:
        other = new_key(admin, scopes=("chat", "read"), owner="someone-else")
    with sdk(gateway, other) as theirs:
        with pytest.raises(openai.NotFoundError):
            theirs.responses.retrieve(created.id)
        with pytest.raises(openai.NotFoundError) as caught:
            theirs.responses.create(
                model="persona:seline", input="steal", previous_response_id=created.id
            )
    error = caught.value.response.json()["error"]
    assert (error["code"], error["param"]) == (
        "previous_response_not_found",
        "previous_response_id",
    )


def post(gateway: LiveGateway, body: dict[str, Any], key: str | None = None) -> httpx.Response:
    with gateway.client(key or gateway.admin_key) as http:
        return http.post("/v1/responses", json=body)


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"input": "hi"}, "missing_required_parameter"),
        ({"model": "persona:seline"}, "missing_required_parameter"),
        ({"model": "persona:seline", "input": []}, "empty_array"),
        ({"model": "persona:seline", "input": [{"role": "tool", "content": "x"}]},
         "invalid_value"),
        ({"model": "persona:seline", "input": "hi", "stream": "true"}, "invalid_type"),
        ({"model": "persona:seline", "input": "hi", "temperature": 3}, "integer_above_max_value"),
        ({"model": "thinkingthoughts-sim", "input": "hi", "traits": {"emojis": 5}},
         "invalid_traits"),
    ],
)  # fmt: skip
def test_an_invalid_request_is_openais_400(
    gateway: LiveGateway, body: dict[str, Any], code: str
) -> None:
    assert_openai_error(post(gateway, body), 400, code)


def test_unknown_models_and_personas_are_404s(gateway: LiveGateway) -> None:
    for model in ("no-such-model", "persona:nobody"):
        assert_openai_error(post(gateway, {"model": model, "input": "hi"}), 404, "model_not_found")


def test_the_keys_scope_and_allow_lists_apply(gateway: LiveGateway) -> None:
    with gateway.client(gateway.admin_key) as admin:
        reader = new_key(admin, scopes=("read",))
        tutor_only = new_key(admin, allowed_personas=["tutor"])
    refused = post(gateway, {"model": "persona:seline", "input": "hi"}, reader)
    assert_openai_error(refused, 403, "permission_denied")
    narrow = post(gateway, {"model": "persona:seline", "input": "hi"}, tutor_only)
    assert_openai_error(narrow, 403, "persona_not_allowed")
    assert post(gateway, {"model": "persona:tutor", "input": "hi"}, tutor_only).status_code == 200


def test_unknown_fields_are_accepted_and_not_sent_upstream(
    client: OpenAI, simulator: ThreadedSimulator
) -> None:
    client.responses.create(
        model="persona:seline",
        input="hi",
        truncation="auto",
        extra_body={"include": [], "parallel_tool_calls": True},
    )
    sent = simulator.recorded_requests()[-1]
    assert not {"truncation", "include", "parallel_tool_calls", "store"} & set(sent)


def test_previous_response_id_continues_the_stored_path(
    client: OpenAI, simulator: ThreadedSimulator
) -> None:
    first = client.responses.create(model="persona:seline", input="first question",
                                    instructions="Only for the first.")  # fmt: skip
    second = client.responses.create(
        model="persona:seline", input="second question", previous_response_id=first.id
    )

    assert second.previous_response_id == first.id
    sent = simulator.recorded_requests()[-1]["messages"]
    assert [(m["role"], m["content"]) for m in sent[1:]] == [
        ("user", "first question"),
        ("assistant", first.output_text),
        ("user", "second question"),
    ]
    assert "Only for the first." not in str(sent)
    assert client.responses.retrieve(second.id).previous_response_id == first.id
    assert client.responses.retrieve(first.id).previous_response_id is None


def test_two_responses_continuing_one_make_two_branches(
    client: OpenAI, simulator: ThreadedSimulator, gateway: LiveGateway
) -> None:
    root = client.responses.create(model="persona:seline", input="where to?")
    left = client.responses.create(
        model="persona:seline", input="the sea", previous_response_id=root.id
    )
    right = list(client.responses.create(model="persona:seline", input="the hills",
                                         previous_response_id=root.id, stream=True))  # fmt: skip
    after_left = client.responses.create(
        model="persona:seline", input="and then?", previous_response_id=left.id
    )

    sent = simulator.recorded_requests()[-1]["messages"]
    assert [m["content"] for m in sent if m["role"] == "user"] == [
        "where to?", "the sea", "and then?",
    ]  # fmt: skip
    completed = right[-1]
    assert isinstance(completed, ResponseCompletedEvent)
    right_response = completed.response
    assert right_response.previous_response_id == root.id
    assert client.responses.retrieve(right_response.id).output_text == (right_response.output_text)
    assert client.responses.retrieve(after_left.id).previous_response_id == left.id
    with gateway.client(gateway.admin_key) as admin:
        newest = admin.get("/api/sessions").json()["data"][0]
        tree = admin.get(f"/api/sessions/{newest['id']}", params={"tree": "true"}).json()
    branch_starts = [m for m in tree["messages"] if m["content"] in ("the sea", "the hills")]
    assert len(branch_starts) == 2
    assert branch_starts[0]["parent_id"] == branch_starts[1]["parent_id"]
    assert [m["sibling_count"] for m in branch_starts] == [2, 2]


def test_a_response_not_stored_still_reads_its_previous_one(
    client: OpenAI, gateway: LiveGateway, simulator: ThreadedSimulator
) -> None:
    first = client.responses.create(model="thinkingthoughts-sim", input="remember me")
    with gateway.client(gateway.admin_key) as admin:
        [listed] = admin.get("/api/sessions").json()["data"]
    client.responses.create(model="thinkingthoughts-sim", input="do you?",
                            previous_response_id=first.id, store=False)  # fmt: skip

    sent = simulator.recorded_requests()[-1]["messages"]
    assert [m["content"] for m in sent] == ["remember me", first.output_text, "do you?"]
    with gateway.client(gateway.admin_key) as admin:
        session = admin.get(f"/api/sessions/{listed['id']}").json()
    assert session["messages_total"] == 2


def test_a_stream_the_upstream_breaks_ends_with_response_failed_and_is_recorded(
    simulator_factory: SimulatorFactory, gateway_factory: GatewayFactory
) -> None:
    live = gateway_factory(upstream=simulator_factory(drop_rate=1.0, reply_tokens=64))
    with sdk(live) as client:
        events = list(client.responses.create(model="persona:seline", input="hi", stream=True))
        failed = events[-1]
        assert failed.type == "response.failed"
        assert failed.response.status == "failed"
        assert failed.response.error is not None
        assert failed.response.error.code == "server_error"
        assert client.responses.retrieve(failed.response.id).status == "failed"
    assert events[0].type == "response.created"
    assert [event.sequence_number for event in events] == list(range(len(events)))
