"""The bundled inference simulator over real HTTP: vLLM's shapes, timing and failures."""

from __future__ import annotations

import asyncio
import base64
import re
import struct
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import web

from thinkingthoughts.simulator import SimulatorConfig, create_simulator_app

CHAT = "/v1/chat/completions"
MODEL = "thinkingthoughts-sim"
SELINE_CHAT: list[dict[str, Any]] = [
    {"role": "system", "content": "Name: Seline\nTone: warm"},
    {"role": "user", "content": "Hello there"},
    {"role": "assistant", "content": "Hi!"},
    {"role": "user", "content": "Tell me about rainy days"},
]


@asynccontextmanager
async def running_simulator(**config: Any) -> AsyncIterator[aiohttp.ClientSession]:
    """A simulator on a real local port, and a client session whose base URL points at it."""
    runner = web.AppRunner(create_simulator_app(SimulatorConfig(**config)), access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        async with aiohttp.ClientSession(base_url=f"http://{host}:{port}") as session:
            yield session
    finally:
        await runner.cleanup()


def chat_body(**overrides: Any) -> dict[str, Any]:
    return {"model": MODEL, "messages": SELINE_CHAT, **overrides}


async def read_events(response: aiohttp.ClientResponse) -> list[str]:
    """The `data:` payloads of an SSE response, in order."""
    text = (await response.read()).decode()
    assert text.endswith("\n\n")
    return [event.removeprefix("data: ") for event in text.split("\n\n") if event]


async def read_lines_into(lines: list[bytes], response: aiohttp.ClientResponse) -> None:
    async for line in response.content:
        lines.append(line)


async def stats_of(session: aiohttp.ClientSession) -> dict[str, Any]:
    async with session.get("/_sim/stats") as response:
        return dict(await response.json())


async def eventually(check: Callable[[], Awaitable[bool]], within: float = 2.0) -> None:
    deadline = time.monotonic() + within
    while not await check():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


# --- whole completions ---------------------------------------------------------------


async def test_whole_completion_has_openai_shape_and_echoes_the_request() -> None:
    async with (
        running_simulator(reply_tokens=40) as session,
        session.post(CHAT, json=chat_body()) as response,
    ):
        assert response.status == 200
        assert response.content_type == "application/json"
        body = await response.json()

    assert body["id"].startswith("chatcmpl-")
    assert body["object"] == "chat.completion"
    assert body["model"] == MODEL
    assert isinstance(body["created"], int)
    choice = body["choices"][0]
    assert choice["message"]["role"] == "assistant"
    assert choice["message"]["content"].startswith(
        '[Seline] You said: "Tell me about rainy days". (4 messages)'
    )
    assert choice["finish_reason"] == "stop"
    usage = body["usage"]
    assert usage["completion_tokens"] == 40
    assert usage["prompt_tokens"] == 4 * 4 + 6 + 2 + 2 + 5
    assert usage["total_tokens"] == usage["prompt_tokens"] + 40


@pytest.mark.parametrize("field", ["max_tokens", "max_completion_tokens"])
async def test_a_lower_max_tokens_cuts_the_reply_with_finish_reason_length(field: str) -> None:
    async with (
        running_simulator(reply_tokens=40) as session,
        session.post(CHAT, json=chat_body(**{field: 5})) as response,
    ):
        body = await response.json()

    assert body["choices"][0]["message"]["content"] == "[Seline] You said"
    assert body["choices"][0]["finish_reason"] == "length"
    assert body["usage"]["completion_tokens"] == 5


async def test_a_higher_max_tokens_leaves_the_reply_at_its_natural_length() -> None:
    async with (
        running_simulator(reply_tokens=12) as session,
        session.post(CHAT, json=chat_body(max_tokens=500)) as response,
    ):
        body = await response.json()

    assert body["choices"][0]["finish_reason"] == "stop"
    assert body["usage"]["completion_tokens"] == 12


async def test_whole_completion_waits_for_the_whole_generation() -> None:
    async with running_simulator(
        reply_tokens=6, time_to_first_token=0.1, inter_token_latency=0.02
    ) as session:
        started = time.monotonic()
        async with session.post(CHAT, json=chat_body()) as response:
            await response.read()
        elapsed = time.monotonic() - started

    assert elapsed >= 0.1 + 5 * 0.02


# --- streamed completions ------------------------------------------------------------


async def test_stream_sends_role_then_one_chunk_per_token_then_finish_and_done() -> None:
    async with running_simulator(reply_tokens=30) as session:
        async with session.post(CHAT, json=chat_body()) as whole:
            expected = (await whole.json())["choices"][0]["message"]["content"]
        async with session.post(CHAT, json=chat_body(stream=True)) as response:
            assert response.status == 200
            assert response.content_type == "text/event-stream"
            events = await read_events(response)

    assert events[-1] == "[DONE]"
    chunks = [orjson.loads(event) for event in events[:-1]]
    assert len(chunks) == 1 + 30 + 1
    assert {chunk["object"] for chunk in chunks} == {"chat.completion.chunk"}
    assert len({chunk["id"] for chunk in chunks}) == 1
    assert chunks[0]["id"].startswith("chatcmpl-")
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    pieces = [chunk["choices"][0]["delta"]["content"] for chunk in chunks[1:-1]]
    assert "".join(pieces) == expected
    assert all(chunk["choices"][0]["finish_reason"] is None for chunk in chunks[:-1])
    assert chunks[-1]["choices"][0] == {
        "index": 0,
        "delta": {},
        "logprobs": None,
        "finish_reason": "stop",
    }
    assert all("usage" not in chunk for chunk in chunks)


async def test_stream_with_include_usage_ends_with_a_usage_chunk() -> None:
    body = chat_body(stream=True, max_tokens=7, stream_options={"include_usage": True})
    async with (
        running_simulator(reply_tokens=30) as session,
        session.post(CHAT, json=body) as response,
    ):
        events = await read_events(response)

    assert events[-1] == "[DONE]"
    finish, usage = orjson.loads(events[-3]), orjson.loads(events[-2])
    assert finish["choices"][0]["finish_reason"] == "length"
    assert usage["choices"] == []
    assert usage["usage"]["completion_tokens"] == 7
    assert usage["usage"]["total_tokens"] == usage["usage"]["prompt_tokens"] + 7


async def test_stream_paces_tokens_by_first_token_and_inter_token_latency() -> None:
    async with running_simulator(
        reply_tokens=5, time_to_first_token=0.15, inter_token_latency=0.03
    ) as session:
        started = time.monotonic()
        arrivals: list[float] = []
        async with session.post(CHAT, json=chat_body(stream=True)) as response:
            async for line in response.content:
                if line.startswith(b"data: {") and b'"content":"' in line:
                    arrivals.append(time.monotonic() - started)

    content_arrivals = arrivals[1:]  # the role chunk arrives with the first token
    assert len(content_arrivals) == 5
    assert content_arrivals[0] >= 0.15
    assert content_arrivals[-1] - content_arrivals[0] >= 4 * 0.03 * 0.9


async def test_finished_streams_are_counted_as_completed() -> None:
    async with running_simulator(reply_tokens=4) as session:
        for _ in range(2):
            async with session.post(CHAT, json=chat_body(stream=True)) as response:
                await response.read()
        stats = await stats_of(session)

    assert stats["completed_streams"] == 2
    assert stats["cancelled_streams"] == 0
    assert stats["active_streams"] == 0
    assert stats["requests"] == 2


async def test_a_client_leaving_mid_stream_is_counted_as_cancelled() -> None:
    async with running_simulator(reply_tokens=500, inter_token_latency=0.05) as session:
        response = await session.post(CHAT, json=chat_body(stream=True))
        await response.content.readline()
        assert (await stats_of(session))["active_streams"] == 1
        response.close()

        async def stream_was_cancelled() -> bool:
            stats = await stats_of(session)
            return bool(stats["cancelled_streams"] == 1 and stats["active_streams"] == 0)

        await eventually(stream_was_cancelled)
        assert (await stats_of(session))["completed_streams"] == 0


# --- refusals in vLLM's error shape --------------------------------------------------


async def test_context_overflow_answers_vllm_400_body() -> None:
    long_message = [{"role": "user", "content": "word " * 95}]  # 4 + 95 prompt tokens
    async with (
        running_simulator(max_model_len=120) as session,
        session.post(
            CHAT, json={"model": MODEL, "messages": long_message, "max_tokens": 30}
        ) as response,
    ):
        status, body = response.status, await response.json()

    assert status == 400
    assert body == {
        "object": "error",
        "message": "This model's maximum context length is 120 tokens. However, you requested "
        "129 tokens (99 in the messages, 30 in the completion). Please reduce the length of "
        "the messages or completion.",
        "type": "BadRequestError",
        "param": None,
        "code": 400,
    }


async def test_context_check_uses_the_default_reply_length_without_max_tokens() -> None:
    messages = [{"role": "user", "content": "word " * 90}]  # 94 prompt tokens
    async with running_simulator(max_model_len=120, reply_tokens=32) as session:
        async with session.post(CHAT, json={"model": MODEL, "messages": messages}) as refused:
            assert refused.status == 400
            assert "(94 in the messages, 32 in the completion)" in (await refused.json())["message"]
        async with session.post(
            CHAT, json={"model": MODEL, "messages": messages, "max_tokens": 26}
        ) as fits:
            assert fits.status == 200


async def test_unknown_model_answers_404_not_found() -> None:
    async with (
        running_simulator() as session,
        session.post(CHAT, json=chat_body(model="gpt-9")) as response,
    ):
        status, body = response.status, await response.json()

    assert status == 404
    assert body == {
        "object": "error",
        "message": "The model `gpt-9` does not exist.",
        "type": "NotFoundError",
        "param": None,
        "code": 404,
    }


@pytest.mark.parametrize(
    "raw",
    [
        b"not json",
        b"[1, 2]",
        orjson.dumps({"model": MODEL}),
        orjson.dumps({"model": MODEL, "messages": []}),
        orjson.dumps({"model": MODEL, "messages": ["hi"]}),
        orjson.dumps({"model": MODEL, "messages": SELINE_CHAT, "max_tokens": 0}),
        orjson.dumps({"model": MODEL, "messages": SELINE_CHAT, "max_tokens": "ten"}),
        orjson.dumps({"model": MODEL, "messages": SELINE_CHAT, "stream": "yes"}),
    ],
)
async def test_invalid_bodies_answer_400_bad_request(raw: bytes) -> None:
    async with (
        running_simulator() as session,
        session.post(CHAT, data=raw, headers={"Content-Type": "application/json"}) as response,
    ):
        status, body = response.status, await response.json()

    assert status == 400
    assert body["object"] == "error"
    assert body["type"] == "BadRequestError"
    assert body["code"] == 400
    assert body["message"]


async def test_a_request_without_model_is_served_by_the_one_model() -> None:
    async with (
        running_simulator() as session,
        session.post(CHAT, json={"messages": SELINE_CHAT}) as response,
    ):
        assert response.status == 200
        assert (await response.json())["model"] == MODEL


# --- injected failures ---------------------------------------------------------------


async def test_injected_429_says_when_to_retry() -> None:
    async with running_simulator(fail_429_rate=1.0) as session:
        async with session.post(CHAT, json=chat_body()) as response:
            status, headers, body = response.status, response.headers, await response.json()
        stats = await stats_of(session)

    assert status == 429
    assert headers["Retry-After"] == "1"
    assert body["type"] == "RateLimitError"
    assert body["code"] == 429
    assert stats["injected_failures"]["429"] == 1


async def test_injected_500_answers_internal_error() -> None:
    async with (
        running_simulator(fail_500_rate=1.0) as session,
        session.post(CHAT, json=chat_body(stream=True)) as response,
    ):
        status, body = response.status, await response.json()

    assert status == 500
    assert body["type"] == "InternalServerError"
    assert body["code"] == 500


async def test_injected_drop_cuts_a_stream_after_some_chunks() -> None:
    received: list[bytes] = []
    async with running_simulator(drop_rate=1.0, reply_tokens=20) as session:
        async with session.post(CHAT, json=chat_body(stream=True)) as response:
            assert response.status == 200
            with pytest.raises(aiohttp.ClientPayloadError):
                await read_lines_into(received, response)

        async def dropped_is_counted() -> bool:
            stats = await stats_of(session)
            return bool(stats["dropped_streams"] == 1 and stats["active_streams"] == 0)

        await eventually(dropped_is_counted)
        stats = await stats_of(session)

    events = [line for line in received if line.startswith(b"data: ")]
    assert 1 < len(events) < 20
    assert b"data: [DONE]\n" not in received
    assert stats["cancelled_streams"] == 0
    assert stats["completed_streams"] == 0


async def test_injected_drop_closes_a_whole_request_without_answer() -> None:
    async with running_simulator(drop_rate=1.0) as session:
        with pytest.raises(aiohttp.ClientConnectionError):
            async with session.post(CHAT, json=chat_body()) as response:
                await response.read()


async def test_injected_failures_repeat_with_the_same_seed() -> None:
    async def statuses(seed: int) -> list[int]:
        async with running_simulator(fail_429_rate=0.3, fail_500_rate=0.3, seed=seed) as session:
            codes = []
            for _ in range(20):
                async with session.post(CHAT, json=chat_body()) as response:
                    codes.append(response.status)
            return codes

    first, again, other = await statuses(7), await statuses(7), await statuses(8)
    assert first == again
    assert first != other
    assert {200, 429, 500} <= set(first)


async def test_invalid_requests_are_refused_even_when_failures_are_injected() -> None:
    async with (
        running_simulator(fail_500_rate=1.0) as session,
        session.post(CHAT, json=chat_body(model="other")) as response,
    ):
        assert response.status == 404


# --- tool calls ----------------------------------------------------------------------

CALL_ID = re.compile(r"^call_[0-9a-f]{24}$")
WEATHER_TOOLS: list[dict[str, Any]] = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Current weather in a city.",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    },
    {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object"}}},
]
RAINY_ECHO = '{"echo":"Tell me about rainy days"}'
RAINY_ECHO_TOKENS = 8 + 5  # { " echo " : " ... " } around five words


def tool_body(**overrides: Any) -> dict[str, Any]:
    return chat_body(tools=WEATHER_TOOLS, **overrides)


def named(name: str) -> dict[str, Any]:
    return {"type": "function", "function": {"name": name}}


def answered_chat(call: dict[str, Any], result: str) -> list[dict[str, Any]]:
    """SELINE_CHAT, the assistant's tool call, and the tool's result for it."""
    return [
        *SELINE_CHAT,
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": call["id"], "content": result},
    ]


async def whole_answer(session: aiohttp.ClientSession, body: dict[str, Any]) -> dict[str, Any]:
    async with session.post(CHAT, json=body) as response:
        assert response.status == 200, await response.text()
        return dict(await response.json())


async def streamed_chunks(
    session: aiohttp.ClientSession, body: dict[str, Any]
) -> list[dict[str, Any]]:
    """The JSON chunks of a streamed answer, after checking it ends with [DONE]."""
    async with session.post(CHAT, json={**body, "stream": True}) as response:
        assert response.status == 200, await response.text()
        events = await read_events(response)
    assert events[-1] == "[DONE]"
    return [orjson.loads(event) for event in events[:-1]]


@pytest.mark.parametrize("choice", [{}, {"tool_choice": "auto"}, {"tool_choice": "required"}])
async def test_tools_make_a_whole_answer_one_call_of_the_first_tool(choice: dict[str, Any]) -> None:
    async with running_simulator() as session:
        body = await whole_answer(session, tool_body(**choice))

    [choice_] = body["choices"]
    assert choice_["finish_reason"] == "tool_calls"
    message = choice_["message"]
    assert message["role"] == "assistant"
    assert message["content"] is None
    [call] = message["tool_calls"]
    assert CALL_ID.match(call["id"])
    assert call["type"] == "function"
    assert call["function"] == {"name": "get_weather", "arguments": RAINY_ECHO}
    usage = body["usage"]
    assert usage["completion_tokens"] == RAINY_ECHO_TOKENS
    assert usage["total_tokens"] == usage["prompt_tokens"] + RAINY_ECHO_TOKENS


async def test_a_named_tool_choice_calls_that_tool_and_finishes_with_stop() -> None:
    async with running_simulator() as session:
        body = await whole_answer(session, tool_body(tool_choice=named("get_time")))

    [call] = body["choices"][0]["message"]["tool_calls"]
    assert call["function"]["name"] == "get_time"
    assert body["choices"][0]["finish_reason"] == "stop"


async def test_tool_choice_none_answers_text_as_without_tools() -> None:
    async with running_simulator(reply_tokens=20) as session:
        with_tools = await whole_answer(session, tool_body(tool_choice="none"))
        without = await whole_answer(session, chat_body())

    message = with_tools["choices"][0]["message"]
    assert message == without["choices"][0]["message"]
    assert "tool_calls" not in message
    assert with_tools["choices"][0]["finish_reason"] == "stop"
    assert with_tools["usage"]["prompt_tokens"] > without["usage"]["prompt_tokens"]


async def test_the_call_id_is_the_same_for_the_same_request_across_runs() -> None:
    async with running_simulator() as session:
        first = await whole_answer(session, tool_body())
    async with running_simulator() as session:
        again = await whole_answer(session, tool_body())
        other = await whole_answer(session, tool_body(messages=SELINE_CHAT[:2]))

    def call_id(body: dict[str, Any]) -> str:
        return str(body["choices"][0]["message"]["tool_calls"][0]["id"])

    assert call_id(first) == call_id(again)
    assert call_id(first) != call_id(other)


async def test_a_streamed_call_sends_its_head_then_argument_pieces_then_finish() -> None:
    body = tool_body(stream_options={"include_usage": True})
    async with running_simulator() as session:
        whole = await whole_answer(session, body)
        chunks = await streamed_chunks(session, body)

    [whole_call] = whole["choices"][0]["message"]["tool_calls"]
    head, *argument_chunks, finish, usage = chunks
    assert head["choices"][0]["delta"] == {
        "role": "assistant",
        "tool_calls": [
            {
                "index": 0,
                "id": whole_call["id"],
                "type": "function",
                "function": {"name": "get_weather", "arguments": ""},
            }
        ],
    }
    pieces = []
    for chunk in argument_chunks:
        [delta_call] = chunk["choices"][0]["delta"]["tool_calls"]
        assert delta_call.keys() == {"index", "function"}
        assert delta_call["index"] == 0
        assert delta_call["function"].keys() == {"arguments"}
        pieces.append(delta_call["function"]["arguments"])
    assert len(pieces) == RAINY_ECHO_TOKENS
    assert "".join(pieces) == whole_call["function"]["arguments"] == RAINY_ECHO
    assert all(chunk["choices"][0]["finish_reason"] is None for chunk in [head, *argument_chunks])
    assert finish["choices"][0] == {
        "index": 0,
        "delta": {},
        "logprobs": None,
        "finish_reason": "tool_calls",
    }
    assert usage["choices"] == []
    assert usage["usage"] == whole["usage"]
    assert len({chunk["id"] for chunk in chunks}) == 1
    assert {chunk["object"] for chunk in chunks} == {"chat.completion.chunk"}


async def test_a_streamed_named_call_finishes_with_stop_and_no_usage_chunk() -> None:
    async with running_simulator() as session:
        chunks = await streamed_chunks(session, tool_body(tool_choice=named("get_time")))

    assert chunks[0]["choices"][0]["delta"]["tool_calls"][0]["function"]["name"] == "get_time"
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert all("usage" not in chunk for chunk in chunks)


@pytest.mark.parametrize("stream", [False, True])
async def test_max_tokens_cuts_the_arguments_with_finish_reason_length(stream: bool) -> None:
    body = tool_body(max_tokens=4)
    async with running_simulator() as session:
        if stream:
            chunks = await streamed_chunks(session, body)
            arguments = "".join(
                chunk["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"]
                for chunk in chunks[1:-1]
            )
            finish_reason = chunks[-1]["choices"][0]["finish_reason"]
        else:
            whole = await whole_answer(session, body)
            arguments = whole["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"]
            finish_reason = whole["choices"][0]["finish_reason"]
            assert whole["usage"]["completion_tokens"] == 4

    assert arguments == '{"echo"'
    assert finish_reason == "length"


async def test_a_streamed_call_paces_argument_pieces_like_tokens() -> None:
    async with running_simulator(time_to_first_token=0.15, inter_token_latency=0.03) as session:
        started = time.monotonic()
        arrivals: list[float] = []
        async with session.post(CHAT, json=tool_body(stream=True)) as response:
            async for line in response.content:
                if line.startswith(b"data: {") and b'"arguments":"' in line:
                    arrivals.append(time.monotonic() - started)

    piece_arrivals = arrivals[1:]  # the head chunk arrives with the first piece
    assert len(piece_arrivals) == RAINY_ECHO_TOKENS
    assert piece_arrivals[0] >= 0.15
    assert piece_arrivals[-1] - piece_arrivals[0] >= (RAINY_ECHO_TOKENS - 1) * 0.03 * 0.9


@pytest.mark.parametrize("stream", [False, True])
async def test_a_tool_result_is_answered_in_text_quoting_it(stream: bool) -> None:
    async with running_simulator(reply_tokens=30) as session:
        first = await whole_answer(session, tool_body())
        [call] = first["choices"][0]["message"]["tool_calls"]
        follow_up = tool_body(messages=answered_chat(call, "Rain until noon, then sun."))
        if stream:
            chunks = await streamed_chunks(session, follow_up)
            assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
            text = "".join(chunk["choices"][0]["delta"]["content"] for chunk in chunks[1:-1])
            finish_reason = chunks[-1]["choices"][0]["finish_reason"]
        else:
            answer = await whole_answer(session, follow_up)
            assert "tool_calls" not in answer["choices"][0]["message"]
            text = answer["choices"][0]["message"]["content"]
            finish_reason = answer["choices"][0]["finish_reason"]

    assert text.startswith(
        '[Seline] Tool get_weather returned: "Rain until noon, then sun.". (6 messages)'
    )
    assert finish_reason == "stop"


async def test_tool_calls_and_results_in_the_history_count_as_prompt_tokens() -> None:
    call = {
        "id": "call_000000000000000000000001",
        "type": "function",
        "function": {"name": "get_weather", "arguments": '{"city":"Lyon"}'},
    }
    async with running_simulator() as session:
        plain = await whole_answer(session, chat_body())
        answered = await whole_answer(session, chat_body(messages=answered_chat(call, "Sunny.")))

    # get_weather, { " city " : " Lyon " }, and Sunny . with two messages' overhead
    added = (1 + 9) + 2 + 2 * 4
    assert answered["usage"]["prompt_tokens"] == plain["usage"]["prompt_tokens"] + added


async def test_a_forced_call_is_made_even_after_a_tool_result() -> None:
    async with running_simulator() as session:
        first = await whole_answer(session, tool_body())
        [call] = first["choices"][0]["message"]["tool_calls"]
        again = await whole_answer(
            session,
            tool_body(messages=answered_chat(call, "Sunny."), tool_choice="required"),
        )

    [next_call] = again["choices"][0]["message"]["tool_calls"]
    assert next_call["function"]["name"] == "get_weather"
    assert next_call["id"] != call["id"]


async def test_tokenize_counts_tools_as_chat_does() -> None:
    async with running_simulator() as session:
        chat = await whole_answer(session, tool_body(tool_choice="none"))
        async with session.post("/tokenize", json=tool_body()) as response:
            counted = await response.json()

    assert counted["count"] == chat["usage"]["prompt_tokens"] == len(counted["tokens"])


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"tools": WEATHER_TOOLS, "tool_choice": named("book_flight")},
            "The tool specified in `tool_choice` does not match any of the specified `tools`",
        ),
        ({"tool_choice": "auto"}, "When using `tool_choice`, `tools` must be set."),
        (
            {"tools": []},
            "`tools` must not be an empty array. "
            "Either provide at least one tool or omit the field entirely.",
        ),
        (
            {"tools": WEATHER_TOOLS, "tool_choice": "always"},
            'Invalid value for `tool_choice`: always! Only named tools, "none", "auto" or '
            '"required" are supported.',
        ),
        (
            {"messages": [*SELINE_CHAT, {"role": "tool", "content": "Sunny."}]},
            "messages[4]: a message with role `tool` needs a string `tool_call_id`.",
        ),
    ],
)
async def test_refused_tool_requests_answer_vllm_400(
    overrides: dict[str, Any], message: str
) -> None:
    async with (
        running_simulator() as session,
        session.post(CHAT, json=chat_body(**overrides)) as response,
    ):
        status, body = response.status, await response.json()

    assert status == 400
    assert body == {
        "object": "error",
        "message": message,
        "type": "BadRequestError",
        "param": None,
        "code": 400,
    }


# --- other routes --------------------------------------------------------------------


async def test_models_lists_the_served_model_with_its_context_length() -> None:
    async with (
        running_simulator(model="tiny", max_model_len=2048) as session,
        session.get("/v1/models") as response,
    ):
        body = await response.json()

    assert body["object"] == "list"
    [model] = body["data"]
    assert model["id"] == "tiny"
    assert model["object"] == "model"
    assert model["owned_by"] == "vllm"
    assert model["max_model_len"] == 2048
    assert (model["root"], model["parent"]) == ("tiny", None)
    assert model["permission"][0]["object"] == "model_permission"
    assert isinstance(model["created"], int)


async def test_health_answers_200_with_an_empty_body() -> None:
    async with (
        running_simulator() as session,
        session.get("/health") as response,
    ):
        assert response.status == 200
        assert await response.read() == b""


async def test_tokenize_counts_messages_as_chat_does() -> None:
    async with running_simulator(max_model_len=1000) as session:
        async with session.post(CHAT, json=chat_body()) as chat:
            prompt_tokens = (await chat.json())["usage"]["prompt_tokens"]
        async with session.post("/tokenize", json=chat_body()) as response:
            from_messages = await response.json()
        async with session.post(
            "/tokenize", json={"model": MODEL, "prompt": "Hello, world!"}
        ) as response:
            from_prompt = await response.json()

    assert from_messages["count"] == prompt_tokens == len(from_messages["tokens"])
    assert from_messages["max_model_len"] == 1000
    assert from_prompt["count"] == 4
    assert len(from_prompt["tokens"]) == 4
    assert all(isinstance(token, int) for token in from_prompt["tokens"])


@pytest.mark.parametrize(
    ("body", "status"),
    [({"model": MODEL}, 400), ({"model": "other", "prompt": "hi"}, 404)],
)
async def test_tokenize_refuses_what_it_cannot_count(body: dict[str, Any], status: int) -> None:
    async with (
        running_simulator() as session,
        session.post("/tokenize", json=body) as response,
    ):
        assert response.status == status
        assert (await response.json())["code"] == status


async def test_recent_request_bodies_are_recorded_newest_last_and_can_be_cleared() -> None:
    async with running_simulator(record_requests=2) as session:
        for word in ("one", "two", "three"):
            body = {"model": MODEL, "messages": [{"role": "user", "content": word}]}
            async with session.post(CHAT, json={**body, "temperature": 0.5}) as response:
                assert response.status == 200
        async with session.get("/_sim/requests") as response:
            recorded = await response.json()
        async with session.delete("/_sim/requests") as response:
            assert response.status == 204
        async with session.get("/_sim/requests") as response:
            after_clear = await response.json()

    assert [r["messages"][0]["content"] for r in recorded] == ["two", "three"]
    assert recorded[-1]["temperature"] == 0.5
    assert after_clear == []


# --- configuration -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "complaint"),
    [
        ({"model": " "}, "model"),
        ({"time_to_first_token": -0.1}, "time_to_first_token"),
        ({"inter_token_latency": float("nan")}, "inter_token_latency"),
        ({"reply_tokens": 0}, "reply_tokens"),
        ({"max_model_len": -5}, "max_model_len"),
        ({"record_requests": -1}, "record_requests"),
        ({"fail_429_rate": 1.5}, "fail_429_rate"),
        ({"drop_rate": -0.1}, "drop_rate"),
        ({"fail_429_rate": 0.6, "fail_500_rate": 0.6}, "must not exceed 1"),
    ],
)
def test_config_refuses_out_of_range_values(settings: dict[str, Any], complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        SimulatorConfig(**settings)


def test_config_accepts_rates_that_add_up_to_one() -> None:
    config = SimulatorConfig(fail_429_rate=0.1, fail_500_rate=0.2, drop_rate=0.7)
    assert config.failure_rate == pytest.approx(1.0)


async def test_text_completions_answer_a_prompt_whole_and_streamed_alike() -> None:
    body = {"model": MODEL, "prompt": "Once upon a time", "max_tokens": 5}
    async with running_simulator() as session:
        async with session.post("/v1/completions", json=body) as response:
            whole = await response.json()
        streamed_body = {**body, "stream": True, "stream_options": {"include_usage": True}}
        async with session.post("/v1/completions", json=streamed_body) as response:
            events = await read_events(response)

    assert whole["object"] == "text_completion"
    [choice] = whole["choices"]
    assert choice["text"].startswith("[assistant]")
    assert choice["finish_reason"] == "length"
    assert whole["usage"]["completion_tokens"] == 5
    assert events[-1] == "[DONE]"
    chunks = [orjson.loads(event) for event in events[:-1]]
    text = "".join(c["choices"][0]["text"] for c in chunks if c["choices"])
    assert text == choice["text"]
    assert chunks[-1]["usage"] == whole["usage"]


async def test_embeddings_are_deterministic_unit_vectors_in_float_or_base64() -> None:
    async with running_simulator() as session:
        answers = []
        for encoding in ("float", "float", "base64"):
            body = {"model": MODEL, "input": ["a cat", "a dog"], "encoding_format": encoding}
            async with session.post("/v1/embeddings", json=body) as response:
                answers.append(await response.json())

    first, again, packed = answers
    assert first == again
    cat, dog = (item["embedding"] for item in first["data"])
    assert cat != dog
    assert abs(sum(v * v for v in cat) - 1.0) < 1e-9
    unpacked = struct.unpack(f"<{len(cat)}f", base64.b64decode(packed["data"][0]["embedding"]))
    assert unpacked == pytest.approx(cat, rel=1e-6)
    assert first["usage"]["prompt_tokens"] == first["usage"]["total_tokens"] > 0


async def test_embeddings_and_completions_refuse_what_vllm_refuses() -> None:
    async with running_simulator() as session:
        async with session.post("/v1/embeddings", json={"model": MODEL, "input": 3}) as bad:
            assert bad.status == 400
        async with session.post(
            "/v1/completions", json={"model": "other", "prompt": "x"}
        ) as unknown:
            assert unknown.status == 404
