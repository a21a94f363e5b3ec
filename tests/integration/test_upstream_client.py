"""The upstream client against servers that misbehave in the ways real ones do."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator

import pytest
from aiohttp import web

from tests.integration.live_servers import ThreadedAiohttpServer, ThreadedSimulator
from thinkingthoughts.errors import (
    RateLimitedError,
    UpstreamError,
    UpstreamTimeoutError,
    UpstreamUnavailableError,
)
from thinkingthoughts.simulator.config import SimulatorConfig
from thinkingthoughts.upstream.client import UpstreamClient, UpstreamStream, UpstreamTimeouts

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
PAYLOAD = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture
def serve() -> Iterator[Callable[[dict[str, Handler]], str]]:
    servers: list[ThreadedAiohttpServer] = []

    def start(routes: dict[str, Handler]) -> str:
        app = web.Application()
        for path, handler in routes.items():
            app.router.add_route("*", path, handler)
        server = ThreadedAiohttpServer(app)
        server.start()
        servers.append(server)
        return server.root_url + "/v1"

    yield start
    for server in servers:
        server.stop()


async def _client(base_url: str, **timeouts: float) -> UpstreamClient:
    return UpstreamClient.create(
        base_url=base_url, api_key="sk-test", timeouts=UpstreamTimeouts(**timeouts)
    )


async def _stream(response_lines: list[bytes], request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    for line in response_lines:
        await response.write(line)
    return response


async def test_the_api_key_is_sent_as_a_bearer_token(
    serve: Callable[[dict[str, Handler]], str],
) -> None:
    seen: list[str | None] = []

    async def completions(request: web.Request) -> web.Response:
        seen.append(request.headers.get("Authorization"))
        return web.json_response({"choices": [{"message": {"content": "ok"}}]})

    client = await _client(serve({"/v1/chat/completions": completions}))
    try:
        completion = await client.complete(PAYLOAD)
    finally:
        await client.close()
    assert seen == ["Bearer sk-test"]
    assert completion.content == "ok"
    assert completion.model == "m"
    assert completion.usage is None


async def test_a_body_that_is_not_json_is_a_502(
    serve: Callable[[dict[str, Handler]], str],
) -> None:
    async def completions(_: web.Request) -> web.Response:
        return web.Response(text="<html>proxy error page</html>")

    client = await _client(serve({"/v1/chat/completions": completions}))
    try:
        with pytest.raises(UpstreamError, match="not JSON") as caught:
            await client.complete(PAYLOAD)
    finally:
        await client.close()
    assert caught.value.status_code == 502


@pytest.mark.parametrize(
    ("lines", "code"),
    [
        ([b'data: {"choices": [{"delta": {"content": "a"}}]}\n\n'], "upstream_stream_truncated"),
        ([b"data: {not json\n\n"], "upstream_error"),
        ([b'data: {"error": {"message": "engine died"}}\n\n'], "upstream_stream_error"),
    ],
)
async def test_broken_streams_raise_upstream_errors(
    serve: Callable[[dict[str, Handler]], str], lines: list[bytes], code: str
) -> None:
    async def completions(request: web.Request) -> web.StreamResponse:
        return await _stream(lines, request)

    client = await _client(serve({"/v1/chat/completions": completions}))
    try:
        stream = await client.open_stream(PAYLOAD)
        with pytest.raises(UpstreamError) as caught:
            _ = [chunk async for chunk in stream.chunks()]
    finally:
        await client.close()
    assert caught.value.code == code


async def test_a_stream_without_a_first_token_in_time_is_a_504(
    serve: Callable[[dict[str, Handler]], str],
) -> None:
    async def completions(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await asyncio.sleep(2)
        return response

    client = await _client(serve({"/v1/chat/completions": completions}), first_token=0.2)
    try:
        stream = await client.open_stream(PAYLOAD)
        with pytest.raises(UpstreamTimeoutError):
            _ = [chunk async for chunk in stream.chunks()]
    finally:
        await client.close()


async def test_an_upstream_429_opening_a_stream_keeps_retry_after(
    serve: Callable[[dict[str, Handler]], str],
) -> None:
    async def completions(_: web.Request) -> web.Response:
        return web.json_response(
            {"error": {"message": "busy"}}, status=429, headers={"Retry-After": "4"}
        )

    client = await _client(serve({"/v1/chat/completions": completions}))
    try:
        with pytest.raises(RateLimitedError) as caught:
            await client.open_stream(PAYLOAD)
    finally:
        await client.close()
    assert caught.value.retry_after == 4.0


async def test_connection_refused_is_retried_then_503() -> None:
    client = await _client("http://127.0.0.1:1/v1", connect=0.5)
    try:
        with pytest.raises(UpstreamUnavailableError, match="cannot reach"):
            await client.complete(PAYLOAD)
    finally:
        await client.close()


async def test_tokenize_is_exact_on_vllm_and_absent_elsewhere(
    serve: Callable[[dict[str, Handler]], str],
) -> None:
    calls: list[str] = []

    async def missing(request: web.Request) -> web.Response:
        calls.append(request.path)
        return web.Response(status=404)

    simulator = ThreadedSimulator(SimulatorConfig())
    simulator.start()
    with_tokenizer = await _client(simulator.base_url)
    without = await _client(serve({"/tokenize": missing}))
    messages = [{"role": "user", "content": "one two three"}]
    try:
        model = "thinkingthoughts-sim"
        assert await with_tokenizer.count_prompt_tokens(model="other", messages=messages) is None
        assert await with_tokenizer.count_prompt_tokens(model=model, messages=messages) == 7
        assert await without.count_prompt_tokens(model="m", messages=messages) is None
        assert await without.count_prompt_tokens(model="m", messages=messages) is None
    finally:
        await with_tokenizer.close()
        await without.close()
        simulator.stop()
    assert calls == ["/tokenize"]  # a server without it is asked once, not every turn


async def test_models_are_listed_with_their_context_length() -> None:
    simulator = ThreadedSimulator(SimulatorConfig(max_model_len=2048))
    simulator.start()
    client = await _client(simulator.base_url)
    try:
        models = await client.list_models()
    finally:
        await client.close()
        simulator.stop()
    assert [(m.id, m.max_model_len) for m in models] == [("thinkingthoughts-sim", 2048)]


async def test_a_stream_that_only_pings_after_its_first_token_is_cut_as_stalled(
    serve: Callable[[dict[str, Handler]], str],
) -> None:
    async def completions(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write(b'data: {"choices": [{"delta": {"content": "a"}}]}\n\n')
        for _ in range(100):  # keep-alive comments are not tokens
            await response.write(b": ping\n\n")
            await asyncio.sleep(0.05)
        return response

    client = await _client(serve({"/v1/chat/completions": completions}), inter_token=0.3)
    received: list[str] = []
    try:
        stream = await client.open_stream(PAYLOAD)
        with pytest.raises(UpstreamTimeoutError, match="stalled") as caught:
            await _collect_contents(stream, into=received)
    finally:
        await client.close()
    assert received == ["a"]
    assert caught.value.code == "upstream_stalled"
    assert caught.value.status_code == 504


async def _collect_contents(stream: UpstreamStream, *, into: list[str]) -> None:
    async for chunk in stream.chunks():
        into.append(chunk.content)
