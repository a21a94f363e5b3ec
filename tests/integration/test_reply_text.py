"""An upstream reply is never lost for what it contains, on SQLite and on PostgreSQL.

The upstream here answers a fixed text holding a NUL and a lone surrogate, escaped in its
JSON as a Python server writes them. Each is relayed and stored as U+FFFD, the stream ends
with `done` (`[DONE]` on /v1), and what the client received is what was stored.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from aiohttp import web

from tests.integration.conftest import GatewayFactory
from tests.integration.live_servers import ThreadedAiohttpServer
from tests.integration.test_chat_streaming import sse_events

UNSTORABLE_REPLY = ["Fine", " a\x00b", " c\ud800d", " \udfff", " \U0001f600 end"]
"""Pieces of the reply: NUL, a lone high and a lone low surrogate, and a real pair."""
STORED_REPLY = "Fine a\ufffdb c\ufffdd \ufffd \U0001f600 end"
MODEL = "unstorable-reply-model"


class UnstorableReplyUpstream(ThreadedAiohttpServer):
    """An OpenAI-compatible server whose every reply is `UNSTORABLE_REPLY`, encoded by the
    standard library as Python servers do (NUL as `\\u0000`, lone surrogates as `\\udXXX`),
    which orjson itself could not encode."""

    def __init__(self, *, raw_surrogates: bool = False) -> None:
        """`raw_surrogates`: stream lone surrogates as raw (invalid UTF-8) bytes instead."""
        self._raw_surrogates = raw_surrogates
        app = web.Application()
        app.router.add_get("/v1/models", self._models)
        app.router.add_post("/v1/chat/completions", self._chat)
        super().__init__(app)

    async def _models(self, _: web.Request) -> web.Response:
        entry = {"id": MODEL, "object": "model", "created": 0, "owned_by": "test",
                 "max_model_len": 4096}  # fmt: skip
        return web.json_response({"object": "list", "data": [entry]})

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        usage = {"prompt_tokens": 7, "completion_tokens": len(UNSTORABLE_REPLY)}
        head = {"id": "chatcmpl-1", "created": 0, "model": MODEL}
        if not body.get("stream"):
            message = {"role": "assistant", "content": "".join(UNSTORABLE_REPLY)}
            choice = {"index": 0, "message": message, "finish_reason": "stop"}
            whole = {**head, "object": "chat.completion", "choices": [choice], "usage": usage}
            return web.Response(text=json.dumps(whole), content_type="application/json")
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        for data in stream_payloads(head, usage, ensure_ascii=not self._raw_surrogates):
            await response.write(f"data: {data}\n\n".encode("utf-8", "surrogatepass"))
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response


def stream_payloads(
    head: dict[str, Any], usage: dict[str, int], *, ensure_ascii: bool = True
) -> Iterator[str]:
    chunk = {**head, "object": "chat.completion.chunk"}
    for piece in UNSTORABLE_REPLY:
        delta = {"role": "assistant", "content": piece}
        choice = {"index": 0, "delta": delta, "finish_reason": None}
        yield json.dumps({**chunk, "choices": [choice]}, ensure_ascii=ensure_ascii)
    yield json.dumps({**chunk, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    yield json.dumps({**chunk, "choices": [], "usage": usage})


@pytest.fixture
def admin_of_unstorable_upstream(gateway_factory: GatewayFactory) -> Iterator[httpx.Client]:
    upstream = UnstorableReplyUpstream()
    upstream.start()
    try:
        gateway = gateway_factory(upstream=upstream)
        with gateway.client(gateway.admin_key) as client:
            yield client
    finally:
        upstream.stop()


def stored_reply(admin: httpx.Client, session_id: str) -> dict[str, Any]:
    messages = admin.get(f"/api/sessions/{session_id}").json()["messages"]
    assert [m["role"] for m in messages][-2:] == ["user", "assistant"]
    return dict(messages[-1])


def test_native_stream_relays_and_stores_an_unstorable_reply_and_ends_with_done(
    admin_of_unstorable_upstream: httpx.Client,
) -> None:
    admin = admin_of_unstorable_upstream
    with admin.stream("POST", "/api/chat", json={"message": "hi", "stream": True}) as response:
        events = list(sse_events(response))

    names = [name for name, _ in events]
    relayed = "".join(data["content"] for name, data in events if name == "delta")
    stored = stored_reply(admin, events[0][1]["session_id"])
    assert (names[0], names[-1]) == ("start", "done")
    assert relayed == STORED_REPLY
    assert (stored["content"], stored["status"]) == (STORED_REPLY, "complete")


def test_native_whole_reply_that_is_unstorable_is_answered_and_stored(
    admin_of_unstorable_upstream: httpx.Client,
) -> None:
    admin = admin_of_unstorable_upstream
    response = admin.post("/api/chat", json={"message": "hi"})

    assert response.status_code == 200, response.text
    stored = stored_reply(admin, response.json()["session_id"])
    assert response.json()["assistant"] == STORED_REPLY
    assert (stored["content"], stored["status"]) == (STORED_REPLY, "complete")


def test_v1_stream_relays_and_stores_an_unstorable_reply_and_ends_with_done(
    admin_of_unstorable_upstream: httpx.Client,
) -> None:
    admin = admin_of_unstorable_upstream
    body = {"model": MODEL, "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    with admin.stream(
        "POST", "/v1/chat/completions", json=body, headers={"x-session-id": "new"}
    ) as response:
        session_id = response.headers["x-session-id"]
        data = [line[len("data: ") :] for line in response.iter_lines() if line.startswith("data:")]

    chunks = [json.loads(item) for item in data[:-1]]
    relayed = "".join(
        chunk["choices"][0]["delta"].get("content") or "" for chunk in chunks if chunk["choices"]
    )
    stored = stored_reply(admin, session_id)
    assert data[-1] == "[DONE]"
    assert relayed == STORED_REPLY
    assert (stored["content"], stored["status"]) == (STORED_REPLY, "complete")


def test_v1_whole_reply_that_is_unstorable_is_answered_and_stored(
    admin_of_unstorable_upstream: httpx.Client,
) -> None:
    admin = admin_of_unstorable_upstream
    body = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}]}

    response = admin.post("/v1/chat/completions", json=body, headers={"x-session-id": "new"})

    assert response.status_code == 200, response.text
    stored = stored_reply(admin, response.headers["x-session-id"])
    assert response.json()["choices"][0]["message"]["content"] == STORED_REPLY
    assert (stored["content"], stored["status"]) == (STORED_REPLY, "complete")


def test_a_stream_with_invalid_utf8_is_relayed_and_stored_alike_and_ends_with_done(
    gateway_factory: GatewayFactory,
) -> None:
    upstream = UnstorableReplyUpstream(raw_surrogates=True)
    upstream.start()
    try:
        gateway = gateway_factory(upstream=upstream)
        with (
            gateway.client(gateway.admin_key) as admin,
            admin.stream("POST", "/api/chat", json={"message": "hi", "stream": True}) as response,
        ):
            events = list(sse_events(response))
            stored = stored_reply(admin, events[0][1]["session_id"])
    finally:
        upstream.stop()

    relayed = "".join(data["content"] for name, data in events if name == "delta")
    assert [name for name, _ in events][-1] == "done"
    assert relayed.startswith("Fine a\ufffdb c\ufffd")
    assert relayed.endswith(" \U0001f600 end")
    assert (stored["content"], stored["status"]) == (relayed, "complete")
