"""An upstream that hangs, over real HTTP: model discovery never makes requests wait on
one another, and a stream that stalls ends with an error naming the stall."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import httpx
import openai
import orjson
import pytest
from aiohttp import web
from openai import OpenAI

from tests.integration.conftest import GatewayFactory
from tests.integration.live_servers import ThreadedAiohttpServer
from thinkingthoughts.errors import UpstreamTimeoutError, UpstreamUnavailableError
from thinkingthoughts.upstream.client import PROBE_TIMEOUT_SECONDS, UpstreamClient, UpstreamTimeouts
from thinkingthoughts.upstream.models import ModelResolver

MODEL = "stalling-model"
CONCURRENT_REQUESTS = 12
FAULT_BOUND_SECONDS = 5.0
"""How long a client may wait for the gateway to name a fault it can detect quickly."""


class StallingUpstream(ThreadedAiohttpServer):
    """An OpenAI-compatible server that hangs: `/v1/models` never answers when
    `hang_models`, and a chat completion sends `tokens_before_stall` tokens (None: not
    even its headers) and then nothing, until the server stops."""

    def __init__(self, *, hang_models: bool = False, tokens_before_stall: int | None = 1) -> None:
        app = web.Application()
        app.router.add_get("/v1/models", self._models)
        app.router.add_post("/v1/chat/completions", self._chat)
        super().__init__(app)
        self._hang_models = hang_models
        self._tokens_before_stall = tokens_before_stall
        self._release = asyncio.Event()
        self.model_probes = 0

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._release.set)
        super().stop()

    async def _models(self, _: web.Request) -> web.Response:
        self.model_probes += 1
        if self._hang_models:
            await self._release.wait()
        listing = {"object": "list", "data": [{"id": MODEL, "object": "model", "created": 0,
                                              "owned_by": "x", "max_model_len": 4096}]}  # fmt: skip
        return web.json_response(listing)

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        await request.read()
        if self._tokens_before_stall is None:
            await self._release.wait()
            return web.Response(status=503)
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        for index in range(self._tokens_before_stall):
            delta = {"role": "assistant", "content": f"token{index} "}
            chunk = {"id": "c", "object": "chat.completion.chunk", "created": 0, "model": MODEL,
                     "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}  # fmt: skip
            await response.write(b"data: " + orjson.dumps(chunk) + b"\n\n")
        await self._release.wait()
        return response


@pytest.fixture
def stalling() -> Iterator[list[StallingUpstream]]:
    started: list[StallingUpstream] = []
    yield started
    for server in started:
        server.stop()


def start(started: list[StallingUpstream], **behaviour: int | bool | None) -> StallingUpstream:
    server = StallingUpstream(**behaviour)  # type: ignore[arg-type]
    server.start()
    started.append(server)
    return server


async def _chat_concurrently(base_url: str, key: str, count: int) -> list[httpx.Response]:
    async with httpx.AsyncClient(base_url=base_url, timeout=120) as client:
        return await asyncio.gather(
            *(
                client.post(
                    "/v1/chat/completions",
                    headers={"Authorization": f"Bearer {key}"},
                    json={
                        "model": "persona:seline",
                        "messages": [{"role": "user", "content": "hi"}],
                    },
                )
                for _ in range(count)
            )
        )


def test_concurrent_requests_share_one_model_probe_of_a_hung_upstream(
    gateway_factory: GatewayFactory, stalling: list[StallingUpstream]
) -> None:
    hung = start(stalling, hang_models=True)
    live = gateway_factory(upstream=hung)  # LLM_MODEL unset: the model is discovered

    began = time.monotonic()
    answers = asyncio.run(_chat_concurrently(live.base_url, live.admin_key, CONCURRENT_REQUESTS))
    elapsed = time.monotonic() - began

    assert [a.status_code for a in answers] == [504] * CONCURRENT_REQUESTS
    assert {a.json()["error"]["code"] for a in answers} == {"upstream_timeout"}
    # One probe timeout for all of them, where one after another took twelve.
    assert elapsed < 2 * PROBE_TIMEOUT_SECONDS
    assert hung.model_probes == 1

    began = time.monotonic()
    again = asyncio.run(_chat_concurrently(live.base_url, live.admin_key, 1))
    assert again[0].status_code == 504
    assert time.monotonic() - began < PROBE_TIMEOUT_SECONDS  # the failure is remembered
    assert hung.model_probes == 1


async def test_a_failed_probe_is_remembered_briefly_then_retried() -> None:
    refusing = web.Application()
    probes: list[float] = []

    async def unavailable(_: web.Request) -> web.Response:
        probes.append(time.monotonic())
        return web.json_response({"error": {"message": "loading"}}, status=503)

    refusing.router.add_get("/v1/models", unavailable)
    server = ThreadedAiohttpServer(refusing)
    server.start()
    now = [100.0]
    client = UpstreamClient.create(
        base_url=server.base_url, api_key=None, timeouts=UpstreamTimeouts()
    )
    resolver = ModelResolver(
        client,
        configured_model=None,
        configured_max_model_len=None,
        failure_memory=5.0,
        clock=lambda: now[0],
    )
    try:
        for _ in range(3):
            with pytest.raises(UpstreamUnavailableError):
                await resolver.resolve()
        assert len(probes) == 1
        now[0] += 4.9
        with pytest.raises(UpstreamUnavailableError):
            await resolver.resolve()
        assert len(probes) == 1
        now[0] += 0.2
        with pytest.raises(UpstreamUnavailableError):
            await resolver.resolve()
        assert len(probes) == 2
    finally:
        await client.close()
        server.stop()


async def test_a_caller_that_leaves_does_not_cancel_the_probe_others_await(
    stalling: list[StallingUpstream],
) -> None:
    slow = start(stalling, hang_models=True)
    client = UpstreamClient.create(
        base_url=slow.base_url, api_key=None, timeouts=UpstreamTimeouts()
    )
    resolver = ModelResolver(client, configured_model=None, configured_max_model_len=None)
    try:
        leaving = asyncio.ensure_future(resolver.resolve())
        staying = asyncio.ensure_future(resolver.resolve())
        await asyncio.sleep(0)
        leaving.cancel()
        with pytest.raises(UpstreamTimeoutError):
            await staying
        assert slow.model_probes == 1
    finally:
        await client.close()


def _events(body: str) -> list[tuple[str, dict[str, object]]]:
    events = []
    for block in body.strip().split("\r\n\r\n" if "\r\n\r\n" in body else "\n\n"):
        lines = [line for line in block.splitlines() if not line.startswith(":")]
        name = next((ln.split(":", 1)[1].strip() for ln in lines if ln.startswith("event:")), "")
        data = next((ln.split(":", 1)[1].strip() for ln in lines if ln.startswith("data:")), "")
        if name:
            events.append((name, orjson.loads(data)))
    return events


def test_a_native_stream_that_stalls_after_its_first_token_ends_with_a_stall_error(
    gateway_factory: GatewayFactory, stalling: list[StallingUpstream]
) -> None:
    stalls = start(stalling, tokens_before_stall=1)
    live = gateway_factory(
        upstream=stalls, llm_model=MODEL, llm_max_model_len=4096, llm_inter_token_timeout=0.5
    )
    with live.client(live.admin_key, timeout=FAULT_BOUND_SECONDS) as client:
        answer = client.post("/api/chat", json={"message": "hi", "stream": True})
        events = _events(answer.text)
        assert [name for name, _ in events] == ["start", "delta", "error"]
        error = events[-1][1]["error"]
        assert isinstance(error, dict)
        assert error["code"] == "upstream_stalled"
        assert "stalled" in str(error["message"])
        session_id = events[0][1]["session_id"]
        stored = client.get(f"/api/sessions/{session_id}").json()["messages"]
    assert stored[-1]["role"] == "assistant"
    assert stored[-1]["content"] == "token0 "
    assert stored[-1]["status"] == "error"


def test_an_openai_stream_that_stalls_raises_an_error_naming_the_stall(
    gateway_factory: GatewayFactory, stalling: list[StallingUpstream]
) -> None:
    stalls = start(stalling, tokens_before_stall=2)
    live = gateway_factory(
        upstream=stalls, llm_model=MODEL, llm_max_model_len=4096, llm_inter_token_timeout=0.5
    )
    with OpenAI(
        base_url=live.base_url + "/v1",
        api_key=live.admin_key,
        max_retries=0,
        timeout=FAULT_BOUND_SECONDS,
    ) as client:
        stream = client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "hi"}], stream=True
        )
        received: list[str | None] = []
        with pytest.raises(openai.APIError, match="stalled"):
            received.extend(chunk.choices[0].delta.content for chunk in stream)
    assert received == ["token0 ", "token1 "]
