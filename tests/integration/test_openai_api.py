"""The OpenAI-compatible API, driven by the official `openai` SDK over real HTTP."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
from openai import AsyncOpenAI, OpenAI
from openai.types.chat import (
    ChatCompletionContentPartImageParam,
    ChatCompletionMessageParam,
    ChatCompletionToolParam,
)

from tests.integration.conftest import GatewayFactory, SimulatorFactory
from tests.integration.live_servers import (
    HeaderWithholdingUpstream,
    LiveGateway,
    ThreadedSimulator,
    create_key_for,
)
from tests.integration.test_chat_api import level_sentence
from tests.integration.test_tenancy import new_key
from thinkingthoughts.access.api_keys import Scope

HELLO: list[ChatCompletionMessageParam] = [{"role": "user", "content": "hello there"}]


def sdk(gateway: LiveGateway, key: str | None = None, **options: Any) -> OpenAI:
    return OpenAI(
        base_url=gateway.base_url + "/v1",
        api_key=key or gateway.admin_key,
        max_retries=0,
        **options,
    )


@pytest.fixture
def client(gateway: LiveGateway) -> Iterator[OpenAI]:
    with sdk(gateway) as client:
        yield client


def test_models_list_the_upstream_model_and_one_per_persona(client: OpenAI) -> None:
    ids = [model.id for model in client.models.list()]
    assert ids[0] == "thinkingthoughts-sim"
    assert {"persona:seline", "persona:tutor", "persona:concierge"} <= set(ids)


def test_models_relay_the_upstreams_entries_as_they_are(
    client: OpenAI, simulator: ThreadedSimulator
) -> None:
    upstream_entry = httpx.get(simulator.base_url + "/models").json()["data"][0]
    listed = client.models.list().data

    assert listed[0].to_dict() == upstream_entry  # owned_by, created, max_model_len, root...
    persona = next(m for m in listed if m.id == "persona:seline")
    assert persona.owned_by == "thinkingthoughts"
    assert persona.model_dump()["max_model_len"] == upstream_entry["max_model_len"]
    assert persona.model_dump()["root"] == "thinkingthoughts-sim"


@pytest.fixture
def slashed_gateway(
    simulator_factory: SimulatorFactory, gateway_factory: GatewayFactory
) -> LiveGateway:
    return gateway_factory(upstream=simulator_factory(model="mistralai/Mistral-7B"))


def test_models_retrieve_answers_upstream_and_persona_models(
    slashed_gateway: LiveGateway,
) -> None:
    with sdk(slashed_gateway) as client:
        upstream = client.models.retrieve("mistralai/Mistral-7B")
        persona = client.models.retrieve("persona:seline")

    assert upstream.id == "mistralai/Mistral-7B"
    assert upstream.owned_by == "vllm"
    assert upstream.model_dump()["max_model_len"] == 4096
    assert persona.id == "persona:seline"
    assert persona.object == "model"
    assert persona.model_dump()["root"] == "mistralai/Mistral-7B"


@pytest.mark.parametrize("model", ["no-such-model", "mistralai/Nope", "persona:nobody"])
def test_retrieving_an_unknown_model_is_openais_404(
    slashed_gateway: LiveGateway, model: str
) -> None:
    with sdk(slashed_gateway) as client, pytest.raises(openai.NotFoundError) as caught:
        client.models.retrieve(model)
    error = caught.value.response.json()["error"]
    assert error["code"] == "model_not_found"
    assert model in error["message"]


def test_retrieving_a_model_outside_the_keys_allow_lists_is_a_404(
    slashed_gateway: LiveGateway,
) -> None:
    with slashed_gateway.client(slashed_gateway.admin_key) as admin:
        made = admin.post(
            "/api/keys",
            json={"name": "narrow", "scopes": ["read"], "allowed_personas": ["tutor"],
                  "allowed_models": ["mistralai/Mistral-7B"]},
        )  # fmt: skip
        narrow = made.json()["secret"]
        no_models = admin.post(
            "/api/keys", json={"name": "none", "scopes": ["read"], "allowed_models": ["other"]}
        ).json()["secret"]
    with sdk(slashed_gateway, key=narrow) as client:
        assert client.models.retrieve("persona:tutor").id == "persona:tutor"
        with pytest.raises(openai.NotFoundError):
            client.models.retrieve("persona:seline")
    with sdk(slashed_gateway, key=no_models) as client:
        with pytest.raises(openai.NotFoundError):
            client.models.retrieve("mistralai/Mistral-7B")
        with pytest.raises(openai.NotFoundError):
            client.models.retrieve("persona:tutor")  # runs on a model the key may not use


def test_a_persona_model_puts_its_prompt_before_the_clients_system_message(
    client: OpenAI, simulator: ThreadedSimulator
) -> None:
    completion = client.chat.completions.create(
        model="persona:seline",
        messages=[{"role": "system", "content": "Answer briefly."}, *HELLO],
    )

    assert completion.model == "persona:seline"
    assert completion.object == "chat.completion"
    assert completion.choices[0].message.content is not None
    assert completion.choices[0].message.content.startswith('[Seline] You said: "hello there"')
    assert completion.usage is not None
    assert completion.usage.completion_tokens > 0
    sent = simulator.recorded_requests()[-1]
    assert sent["model"] == "thinkingthoughts-sim"
    assert [m["role"] for m in sent["messages"]] == ["system", "system", "user"]
    assert "You are Seline." in sent["messages"][0]["content"]
    assert sent["messages"][1]["content"] == "Answer briefly."


def test_traits_come_in_extra_body(client: OpenAI, simulator: ThreadedSimulator) -> None:
    client.chat.completions.create(
        model="persona:tutor",
        messages=HELLO,
        extra_body={"traits": {"emojis": 5}},
    )
    prompt = simulator.recorded_requests()[-1]["messages"][0]["content"]
    assert level_sentence("emojis", 5) in prompt


def test_the_upstream_model_is_relayed_without_a_persona(
    client: OpenAI, simulator: ThreadedSimulator
) -> None:
    completion = client.chat.completions.create(model="thinkingthoughts-sim", messages=HELLO)
    assert completion.model == "thinkingthoughts-sim"
    assert completion.choices[0].message.content is not None
    assert completion.choices[0].message.content.startswith("[assistant]")
    assert [m["role"] for m in simulator.recorded_requests()[-1]["messages"]] == ["user"]


def test_sampling_and_unknown_fields_pass_through(
    client: OpenAI, simulator: ThreadedSimulator
) -> None:
    client.chat.completions.create(
        model="persona:seline",
        messages=HELLO,
        temperature=0.2,
        top_p=0.5,
        max_completion_tokens=9,
        stop=["\n\n"],
        seed=7,
        presence_penalty=0.1,
        frequency_penalty=0.3,
        response_format={"type": "text"},
        logprobs=False,
        user="end-user-42",
        extra_body={"repetition_penalty": 1.1, "top_k": 20},
    )
    sent = simulator.recorded_requests()[-1]
    expected = {
        "temperature": 0.2, "top_p": 0.5, "max_completion_tokens": 9, "stop": ["\n\n"],
        "seed": 7, "presence_penalty": 0.1, "frequency_penalty": 0.3,
        "response_format": {"type": "text"}, "logprobs": False, "user": "end-user-42",
        "repetition_penalty": 1.1, "top_k": 20,
    }  # fmt: skip
    assert {key: sent.get(key) for key in expected} == expected
    assert "traits" not in sent


def test_content_parts_text_works_and_images_pass_through(
    client: OpenAI, simulator: ThreadedSimulator
) -> None:
    image: ChatCompletionContentPartImageParam = {
        "type": "image_url",
        "image_url": {"url": "data:image/png;base64,AAAA"},
    }
    completion = client.chat.completions.create(
        model="persona:seline",
        messages=[{"role": "user", "content": [{"type": "text", "text": "look at this"}, image]}],
    )
    assert completion.choices[0].message.content is not None
    assert 'You said: "look at this"' in completion.choices[0].message.content
    sent_content = simulator.recorded_requests()[-1]["messages"][-1]["content"]
    assert sent_content[1] == image


def test_streaming_with_usage_matches_openai_chunks(client: OpenAI) -> None:
    chunks = list(
        client.chat.completions.create(
            model="persona:seline",
            messages=HELLO,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert {chunk.object for chunk in chunks} == {"chat.completion.chunk"}
    assert {chunk.model for chunk in chunks} == {"persona:seline"}
    assert len({chunk.id for chunk in chunks}) == 1
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.startswith('[Seline] You said: "hello there"')
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert finishes[-1] in ("stop", "length")
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens > 0


def test_streaming_without_usage_sends_no_usage_chunk(gateway: LiveGateway) -> None:
    with httpx.Client(base_url=gateway.base_url, timeout=30) as http:
        response = http.post(
            "/v1/chat/completions",
            headers={"Authorization": f"Bearer {gateway.admin_key}"},
            json={"model": "persona:seline", "messages": HELLO, "stream": True},
        )
    data_lines = [line for line in response.text.splitlines() if line.startswith("data: ")]
    assert data_lines[-1] == "data: [DONE]"
    assert all('"choices":[]' not in line for line in data_lines)


async def test_the_async_client_streams_too(gateway: LiveGateway) -> None:
    async with AsyncOpenAI(
        base_url=gateway.base_url + "/v1", api_key=gateway.admin_key, max_retries=0
    ) as client:
        stream = await client.chat.completions.create(
            model="persona:tutor",
            messages=HELLO,
            stream=True,
        )
        text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
        completion = await client.chat.completions.create(model="persona:tutor", messages=HELLO)
    assert text == completion.choices[0].message.content


def test_a_session_header_records_the_turns(client: OpenAI, gateway: LiveGateway) -> None:
    raw = client.chat.completions.with_raw_response.create(
        model="persona:seline",
        messages=HELLO,
        extra_headers={"X-Session-Id": "new"},
    )
    session_id = raw.headers["x-session-id"]
    first = raw.parse()
    history: list[Any] = [
        *HELLO,
        {"role": "assistant", "content": first.choices[0].message.content},
        {"role": "user", "content": "and then?"},
    ]
    stream = client.chat.completions.create(
        model="persona:seline",
        messages=history,
        stream=True,
        extra_headers={"X-Session-Id": session_id},
    )
    streamed = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)

    with gateway.client(gateway.admin_key) as native:
        session = native.get(f"/api/sessions/{session_id}").json()
    assert session["persona"] == "seline"
    assert session["title"] == "hello there"
    assert [(m["role"], m["status"]) for m in session["messages"]] == [
        ("user", "complete"),
        ("assistant", "complete"),
        ("user", "complete"),
        ("assistant", "complete"),
    ]
    assert session["messages"][2]["content"] == "and then?"
    assert session["messages"][3]["content"] == streamed


def test_without_a_session_header_nothing_is_stored(client: OpenAI, gateway: LiveGateway) -> None:
    raw = client.chat.completions.with_raw_response.create(model="persona:seline", messages=HELLO)
    assert "x-session-id" not in raw.headers
    with gateway.client(gateway.admin_key) as native:
        assert native.get("/api/sessions").json()["total"] == 0


def test_closing_a_stream_early_closes_it_upstream_and_keeps_what_was_relayed(
    simulator_factory: SimulatorFactory, gateway_factory: GatewayFactory
) -> None:
    slow = simulator_factory(inter_token_latency=0.05, reply_tokens=400)
    live = gateway_factory(upstream=slow)
    with sdk(live) as client:
        stream = client.chat.completions.create(
            model="persona:seline",
            messages=HELLO,
            stream=True,
            extra_headers={"X-Session-Id": "new"},
        )
        session_id = stream.response.headers["x-session-id"]
        received = ""
        for chunk in stream:
            received += (chunk.choices[0].delta.content or "") if chunk.choices else ""
            if len(received) > 40:
                break
        stream.close()
    deadline = time.monotonic() + 10
    while slow.stats()["cancelled_streams"] < 1:
        assert time.monotonic() < deadline, "the upstream stream was not closed"
        time.sleep(0.05)
    with live.client(live.admin_key) as native:
        while len(native.get(f"/api/sessions/{session_id}").json()["messages"]) < 2:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        reply = native.get(f"/api/sessions/{session_id}").json()["messages"][-1]
    assert reply["status"] == "interrupted"
    assert reply["content"].startswith(received)


@pytest.mark.parametrize(
    ("call", "error"),
    [
        ({"model": "persona:nobody", "messages": HELLO}, openai.NotFoundError),
        ({"model": "gpt-nonexistent", "messages": HELLO}, openai.NotFoundError),
        ({"model": "persona:seline", "messages": []}, openai.BadRequestError),
        ({"model": "persona:seline", "messages": [{"role": "robot", "content": "x"}]},
         openai.BadRequestError),
        ({"model": "persona:seline", "messages": [{"role": "user", "content": 5}]},
         openai.BadRequestError),
        ({"model": "persona:seline", "messages": HELLO, "n": 2}, openai.BadRequestError),
        ({"model": "persona:seline", "messages": HELLO, "extra_body": {"traits": {"tone": 9}}},
         openai.BadRequestError),
        ({"model": "thinkingthoughts-sim", "messages": HELLO,
          "extra_body": {"traits": {"tone": 2}}}, openai.BadRequestError),
        ({"model": "persona:seline", "messages": HELLO,
          "extra_headers": {"X-Session-Id": "not-a-session"}}, openai.BadRequestError),
        ({"model": "persona:seline", "messages": [{"role": "user", "content": "x" * 40_000}]},
         openai.APIStatusError),
    ],
)  # fmt: skip
def test_bad_requests_raise_the_sdks_exception_classes(
    client: OpenAI, call: dict[str, Any], error: type[openai.APIStatusError]
) -> None:
    with pytest.raises(error) as caught:
        client.chat.completions.create(**call)
    body = caught.value.response.json()
    assert set(body["error"]) == {"message", "type", "param", "code"}


def test_a_missing_model_is_a_400_in_openai_shape(gateway: LiveGateway) -> None:
    response = httpx.post(
        gateway.base_url + "/v1/chat/completions",
        headers={"Authorization": f"Bearer {gateway.admin_key}"},
        json={"messages": HELLO},
    )
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "model"


OPENAI_REFUSALS = [
    ('"n": 2', 400, "invalid_request_error", "n", "unsupported_value"),
    ('"stream": "true"', 400, "invalid_request_error", "stream", "invalid_type"),
    ('"max_tokens": 0', 400, "invalid_request_error", "max_tokens", "integer_below_min_value"),
    ('"temperature": 2.5', 400, "invalid_request_error", "temperature", "decimal_above_max_value"),
    ('"model": "nope"', 404, "invalid_request_error", "model", "model_not_found"),
    ('"model": "persona:nobody"', 404, "invalid_request_error", "model", "model_not_found"),
    ('"model": "thinkingthoughts-sim", "traits": {"tone": 2}', 400, "invalid_request_error",
     "traits", "invalid_traits"),
    ('"messages": []', 400, "invalid_request_error", "messages", "empty_array"),
    ('"messages": [{"role": "user"}]', 400, "invalid_request_error", "messages.0", "invalid_value"),
]  # fmt: skip
"""Fields refused as OpenAI refuses them: status, `type`, `param` and `code`."""


@pytest.mark.parametrize(("field", "status", "error_type", "param", "code"), OPENAI_REFUSALS)
def test_refusals_name_type_param_and_code_as_openai_does(
    gateway: LiveGateway, field: str, status: int, error_type: str, param: str, code: str
) -> None:
    body = '{"model": "persona:seline", "messages": [{"role": "user", "content": "hi"}], '
    response = httpx.post(
        gateway.base_url + "/v1/chat/completions",
        headers={
            "Authorization": f"Bearer {gateway.admin_key}",
            "content-type": "application/json",
        },
        content=(body + field + "}").encode(),
    )
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert (error["type"], error["param"], error["code"]) == (error_type, param, code)


def test_a_missing_model_is_named_a_missing_required_parameter(gateway: LiveGateway) -> None:
    response = httpx.post(
        gateway.base_url + "/v1/chat/completions",
        headers={"Authorization": f"Bearer {gateway.admin_key}"},
        json={"messages": HELLO},
    )
    assert response.json()["error"]["code"] == "missing_required_parameter"


def test_keys_are_checked_with_openai_errors(gateway: LiveGateway) -> None:
    with sdk(gateway, key="tt_wrong") as wrong, pytest.raises(openai.AuthenticationError):
        wrong.models.list()
    reader = create_key_for(gateway, Scope.READ)
    with sdk(gateway, key=reader) as read_only:
        assert read_only.models.list().data
        with pytest.raises(openai.PermissionDeniedError):
            read_only.chat.completions.create(model="persona:seline", messages=HELLO)


@pytest.mark.parametrize(
    ("failure", "error"),
    [
        ({"fail_429_rate": 1.0}, openai.RateLimitError),
        ({"fail_500_rate": 1.0}, openai.InternalServerError),
    ],
)
def test_upstream_failures_raise_the_sdks_exception_classes(
    simulator_factory: SimulatorFactory,
    gateway_factory: GatewayFactory,
    failure: dict[str, float],
    error: type[openai.APIStatusError],
) -> None:
    failing = simulator_factory(**failure)
    live = gateway_factory(
        upstream=failing, llm_model="thinkingthoughts-sim", llm_max_model_len=4096
    )
    with sdk(live) as client, pytest.raises(error) as caught:
        client.chat.completions.create(model="persona:seline", messages=HELLO)
    if error is openai.RateLimitError:
        assert int(caught.value.response.headers["retry-after"]) >= 1


def test_an_error_after_the_stream_started_is_a_final_error_event(
    simulator_factory: SimulatorFactory, gateway_factory: GatewayFactory
) -> None:
    dropping = simulator_factory(drop_rate=1.0, reply_tokens=64)
    live = gateway_factory(upstream=dropping)
    with sdk(live) as client:
        stream = client.chat.completions.create(
            model="persona:seline",
            messages=HELLO,
            stream=True,
        )
        with pytest.raises(openai.APIError, match=r"mid-stream|broke"):
            for _ in stream:
                pass


WEATHER_TOOL: ChatCompletionToolParam = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}


def test_tool_calls_are_relayed_intact(gateway: LiveGateway, simulator: ThreadedSimulator) -> None:
    direct = OpenAI(base_url=simulator.base_url, api_key="unused", max_retries=0)
    with sdk(gateway) as through, direct:
        via_gateway = through.chat.completions.create(
            model="thinkingthoughts-sim", messages=HELLO, tools=[WEATHER_TOOL]
        )
        upstream = direct.chat.completions.create(
            model="thinkingthoughts-sim", messages=HELLO, tools=[WEATHER_TOOL]
        )
    assert via_gateway.choices[0].finish_reason == "tool_calls"
    calls = via_gateway.choices[0].message.tool_calls
    assert calls is not None
    assert calls == upstream.choices[0].message.tool_calls
    assert calls[0].function.name == "get_weather"  # type: ignore[union-attr]


def test_streamed_tool_call_chunks_are_relayed_intact(
    gateway: LiveGateway, simulator: ThreadedSimulator
) -> None:
    def deltas(client: OpenAI, model: str) -> list[Any]:
        stream = client.chat.completions.create(
            model=model, messages=HELLO, tools=[WEATHER_TOOL], stream=True
        )
        return [(c.choices[0].delta, c.choices[0].finish_reason) for c in stream if c.choices]

    direct = OpenAI(base_url=simulator.base_url, api_key="unused", max_retries=0)
    with sdk(gateway) as through, direct:
        via_gateway = deltas(through, "thinkingthoughts-sim")
        upstream = deltas(direct, "thinkingthoughts-sim")
    assert via_gateway == upstream
    assert via_gateway[-1][1] == "tool_calls"
    assert len(via_gateway) > 3  # the arguments arrive in pieces


def test_a_tool_result_goes_back_upstream_for_the_persona_to_answer(
    client: OpenAI, simulator: ThreadedSimulator
) -> None:
    first = client.chat.completions.create(
        model="persona:concierge", messages=HELLO, tools=[WEATHER_TOOL]
    )
    calls = first.choices[0].message.tool_calls
    assert calls is not None
    follow_up: list[ChatCompletionMessageParam] = [
        *HELLO,
        {"role": "assistant", "content": None, "tool_calls": [calls[0].model_dump()]},  # type: ignore[list-item]
        {"role": "tool", "tool_call_id": calls[0].id, "content": "Sunny, 21 degrees"},
    ]
    answer = client.chat.completions.create(
        model="persona:concierge", messages=follow_up, tools=[WEATHER_TOOL]
    )
    assert answer.choices[0].message.content is not None
    assert 'Tool get_weather returned: "Sunny, 21 degrees"' in answer.choices[0].message.content


LEGACY_FUNCTION_TURN: list[ChatCompletionMessageParam] = [
    *HELLO,
    {"role": "assistant", "content": None,
     "function_call": {"name": "get_weather", "arguments": '{"city": "Paris"}'}},
    {"role": "function", "name": "get_weather", "content": "Sunny, 21 degrees"},
]  # fmt: skip


@pytest.mark.parametrize("stream", [False, True])
def test_the_deprecated_function_calling_shapes_are_accepted_and_relayed(
    client: OpenAI, simulator: ThreadedSimulator, stream: bool
) -> None:
    legacy: dict[str, Any] = {
        "functions": [WEATHER_TOOL["function"]],
        "function_call": "auto",
    }
    if stream:
        chunks = client.chat.completions.create(
            model="persona:concierge", messages=LEGACY_FUNCTION_TURN, stream=True, **legacy
        )
        text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)
    else:
        whole = client.chat.completions.create(
            model="persona:concierge", messages=LEGACY_FUNCTION_TURN, **legacy
        )
        text = whole.choices[0].message.content or ""
    assert text
    sent = simulator.recorded_requests()[-1]
    assert sent["messages"][-2:] == LEGACY_FUNCTION_TURN[-2:]
    assert sent["functions"] == [WEATHER_TOOL["function"]]
    assert sent["function_call"] == "auto"


def test_a_function_message_without_its_name_is_a_400_naming_the_message(
    client: OpenAI,
) -> None:
    nameless = [*HELLO, {"role": "function", "content": "Sunny"}]
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="persona:seline", messages=nameless)  # type: ignore[arg-type]
    assert "name" in caught.value.response.json()["error"]["message"]


def test_the_user_field_keys_a_session_when_the_operator_enables_it(
    gateway_factory: GatewayFactory,
) -> None:
    live = gateway_factory(openai_session_from_user=True)
    with sdk(live) as client:
        for text in ("first", "second"):
            client.chat.completions.create(
                model="persona:seline",
                messages=[{"role": "user", "content": text}],
                user="end-user-7",
            )
        client.chat.completions.create(model="persona:seline", messages=HELLO, user="someone-else")
        client.chat.completions.create(model="persona:seline", messages=HELLO)
    with live.client(live.admin_key) as native:
        sessions = native.get("/api/sessions").json()["data"]
        assert len(sessions) == 2
        oldest = native.get(f"/api/sessions/{sessions[-1]['id']}").json()
    assert [m["content"] for m in oldest["messages"] if m["role"] == "user"] == [
        "first",
        "second",
    ]


def test_the_user_field_is_only_passed_through_by_default(
    client: OpenAI, gateway: LiveGateway, simulator: ThreadedSimulator
) -> None:
    client.chat.completions.create(model="persona:seline", messages=HELLO, user="end-user-7")
    assert simulator.recorded_requests()[-1]["user"] == "end-user-7"
    with gateway.client(gateway.admin_key) as native:
        assert native.get("/api/sessions").json()["total"] == 0


def test_keepalive_comments_are_sent_while_the_first_token_is_awaited(
    simulator_factory: SimulatorFactory, gateway_factory: GatewayFactory
) -> None:
    slow = simulator_factory(time_to_first_token=1.5)
    live = gateway_factory(upstream=slow, sse_keepalive_seconds=0.3)
    with httpx.Client(base_url=live.base_url, timeout=30) as http:
        response = http.post(
            "/v1/chat/completions",
            headers={"Authorization": f"Bearer {live.admin_key}"},
            json={"model": "persona:seline", "messages": HELLO, "stream": True},
        )
    lines = response.text.splitlines()
    first_data = next(i for i, line in enumerate(lines) if line.startswith("data: "))
    assert any(line.startswith(":") for line in lines[:first_data])
    assert "\r" not in response.text  # framed like OpenAI's and vLLM's streams


SLOW_MODEL = "slow-headers-model"


def header_withholding_gateway(
    gateway_factory: GatewayFactory, header_delay: float
) -> tuple[LiveGateway, HeaderWithholdingUpstream]:
    upstream = HeaderWithholdingUpstream(header_delay, model=SLOW_MODEL)
    upstream.start()
    live = gateway_factory(
        upstream=upstream,
        llm_model=SLOW_MODEL,
        llm_max_model_len=4096,
        sse_keepalive_seconds=0.3,
    )
    return live, upstream


def test_an_upstream_400_for_a_bad_parameter_is_a_bad_request_error(
    gateway: LiveGateway,
) -> None:
    # vLLM and OpenAI both answer 400 here; the SDK must raise BadRequestError, not a 5xx.
    with sdk(gateway) as client, pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="persona:seline", messages=HELLO, max_tokens=0)


def test_a_request_the_upstream_refuses_stores_nothing_in_the_session(
    gateway: LiveGateway,
) -> None:
    with sdk(gateway) as client, pytest.raises(openai.APIStatusError) as caught:
        client.chat.completions.create(
            model="persona:seline",
            messages=HELLO,
            max_tokens=0,
            extra_headers={"X-Session-Id": "new"},
        )
    assert "x-session-id" not in caught.value.response.headers
    with gateway.client(gateway.admin_key) as native:
        assert native.get("/api/sessions").json()["total"] == 0


def test_stream_options_beyond_include_usage_pass_through(
    gateway: LiveGateway, simulator: ThreadedSimulator
) -> None:
    with sdk(gateway) as client:
        list(
            client.chat.completions.create(
                model="persona:seline",
                messages=HELLO,
                stream=True,
                stream_options={"include_usage": True},
                extra_body={
                    "stream_options": {"include_usage": True, "continuous_usage_stats": True}
                },
            )
        )
    sent = simulator.recorded_requests()[-1]["stream_options"]
    assert sent.get("continuous_usage_stats") is True


def test_keepalive_comments_flow_while_the_upstream_withholds_its_headers(
    gateway_factory: GatewayFactory,
) -> None:
    live, _ = header_withholding_gateway(gateway_factory, header_delay=1.5)
    with httpx.Client(base_url=live.base_url, timeout=30) as http:
        response = http.post(
            "/v1/chat/completions",
            headers={"Authorization": f"Bearer {live.admin_key}"},
            json={"model": SLOW_MODEL, "messages": HELLO, "stream": True},
        )
    lines = response.text.splitlines()
    first_data = next(i for i, line in enumerate(lines) if line.startswith("data: "))
    assert any(line.startswith(":") for line in lines[:first_data])


def test_a_client_leaving_before_the_upstream_answers_closes_the_upstream_request(
    gateway_factory: GatewayFactory,
) -> None:
    live, upstream = header_withholding_gateway(gateway_factory, header_delay=12.0)
    with sdk(live, timeout=0.5) as client, pytest.raises(openai.APITimeoutError):
        client.chat.completions.create(model=SLOW_MODEL, messages=HELLO, stream=True)
    # Well before the upstream would have answered anyway (a loaded machine is slow).
    deadline = time.monotonic() + 8.0
    while upstream.left_before_headers < 1:
        assert time.monotonic() < deadline, "the upstream request outlived its client"
        time.sleep(0.05)


def test_an_oversize_body_on_v1_has_openais_error_shape(gateway: LiveGateway) -> None:
    with sdk(gateway) as client, pytest.raises(openai.APIStatusError) as caught:
        client.chat.completions.create(
            model="persona:seline",
            messages=[{"role": "user", "content": [{"type": "text", "text": "x" * 2_000_000}]}],
        )
    assert caught.value.status_code == 413
    assert set(caught.value.response.json()["error"]) == {"message", "type", "param", "code"}


def test_a_long_user_field_is_passed_through_when_it_keys_no_session(
    gateway: LiveGateway, simulator: ThreadedSimulator
) -> None:
    user = "u" * 200  # vLLM and OpenAI take it; only the gateway's session column is short
    with sdk(gateway) as client:
        client.chat.completions.create(model="persona:seline", messages=HELLO, user=user)
    assert simulator.recorded_requests()[-1]["user"] == user


@pytest.mark.parametrize("stream", [False, True])
def test_a_tool_call_reply_is_recorded_with_its_call(gateway: LiveGateway, stream: bool) -> None:
    with sdk(gateway) as client:
        raw = client.chat.completions.with_raw_response.create(
            model="persona:concierge",
            messages=HELLO,
            tools=[WEATHER_TOOL],
            stream=stream,
            extra_headers={"X-Session-Id": "new"},
        )
        if stream:
            list(raw.parse())
    session_id = raw.headers["x-session-id"]
    with gateway.client(gateway.admin_key) as native:
        reply = native.get(f"/api/sessions/{session_id}").json()["messages"][-1]
        markdown = native.get(f"/api/sessions/{session_id}/export").text
    assert reply["finish_reason"] == "tool_calls"
    [call] = reply["tool_calls"]
    assert call["function"]["name"] == "get_weather"
    assert call["function"]["arguments"] == '{"echo":"hello there"}'
    assert call["id"].startswith("call_")
    assert '_calls `get_weather({"echo":"hello there"})`_' in markdown


def test_a_user_value_too_long_for_the_column_still_keys_one_session(
    gateway_factory: GatewayFactory,
) -> None:
    live = gateway_factory(openai_session_from_user=True)
    user = "u" * 300
    with sdk(live) as client:
        for text in ("first", "second"):
            client.chat.completions.create(
                model="persona:seline", messages=[{"role": "user", "content": text}], user=user
            )
    with live.client(live.admin_key) as native:
        sessions = native.get("/api/sessions").json()
    assert sessions["total"] == 1
    assert sessions["data"][0]["message_count"] == 4


def test_validation_messages_read_plainly(client: OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="persona:seline", messages=HELLO, n=2)
    message = caught.value.response.json()["error"]["message"]
    assert "n > 1 is not supported" in message
    assert "Value error" not in message


def test_an_admin_sees_each_persona_model_once_when_owners_share_a_slug(
    gateway: LiveGateway, admin: httpx.Client
) -> None:
    sheet = {"name": "Muse", "slug": "muse"}
    for owner in ("alice", "bob"):
        with gateway.client(new_key(admin, owner=owner)) as client:
            assert client.post("/api/personas", json=sheet).status_code == 201

    ids = [card["id"] for card in admin.get("/v1/models").json()["data"]]

    assert ids.count("persona:muse") == 1
    assert admin.get("/v1/models/persona:muse").status_code == 200
