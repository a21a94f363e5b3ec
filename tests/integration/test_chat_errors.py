"""Bad input and failing upstreams: one error shape, the right status, nothing half-stored."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from aiohttp import web

from tests.integration.conftest import GatewayFactory, SimulatorFactory
from tests.integration.live_servers import LiveGateway, ThreadedAiohttpServer, create_key_for
from thinkingthoughts.access.api_keys import Scope


def assert_error(response: httpx.Response, status: int, code: str | None = None) -> None:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"type", "message", "code"}
    assert error["message"]
    if code is not None:
        assert error["code"] == code


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"message": "hi", "persona": "nobody"}, 404, "persona_not_found"),
        ({"message": "hi", "traits": {"tone": 0}}, 422, "invalid_trait_level"),
        ({"message": "hi", "traits": {"tone": 6}}, 422, "invalid_trait_level"),
        ({"message": "hi", "traits": {"tone": "loud"}}, 422, "invalid_trait_level"),
        ({"message": "hi", "traits": {"charm": 3}}, 422, "unknown_trait"),
        ({"message": ""}, 422, "invalid_request"),
        ({"messages": []}, 422, "invalid_request"),
        ({"message": "hi", "session_id": "no-such-session"}, 400, "invalid_session_id"),
        ({"message": "hi", "temperature": -1}, 422, "invalid_request"),
        ({"message": "x" * 40_000}, 413, "message_too_long"),
    ],
)
def test_bad_chat_requests_get_a_clear_error(
    admin: httpx.Client, body: dict[str, Any], status: int, code: str
) -> None:
    assert_error(admin.post("/api/chat", json=body), status, code)
    assert admin.get("/api/sessions").json()["total"] == 0


def test_malformed_json_is_a_422_in_the_error_shape(admin: httpx.Client) -> None:
    response = admin.post(
        "/api/chat", content=b'{"message": "hi"', headers={"content-type": "application/json"}
    )
    assert_error(response, 422, "invalid_request")
    assert "JSON" in response.json()["error"]["message"]


def test_a_body_over_the_size_limit_is_refused_with_413(
    gateway_factory: GatewayFactory,
) -> None:
    live = gateway_factory(max_request_bytes=2_000)
    with live.client(live.admin_key) as client:
        response = client.post("/api/chat", json={"message": "y" * 5_000})
    assert_error(response, 413, "payload_too_large")


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({}, "missing_api_key"),
        ({"x-api-key": "tt_wrong"}, "invalid_api_key"),
        ({"authorization": "Bearer tt_wrong"}, "invalid_api_key"),
        ({"authorization": "Basic dXNlcjpwYXNz"}, "missing_api_key"),
        ({"authorization": "Bearer"}, "missing_api_key"),
    ],
)
def test_chat_without_a_valid_key_is_401(
    gateway: LiveGateway, headers: dict[str, str], code: str
) -> None:
    with httpx.Client(base_url=gateway.base_url, headers=headers) as client:
        assert_error(client.post("/api/chat", json={"message": "hi"}), 401, code)


@pytest.mark.parametrize("scheme", ["Bearer", "bearer"])
def test_bearer_authorization_works_like_x_api_key(gateway: LiveGateway, scheme: str) -> None:
    headers = {"authorization": f"{scheme}   {gateway.admin_key}"}
    with httpx.Client(base_url=gateway.base_url, headers=headers, timeout=30) as client:
        assert client.post("/api/chat", json={"message": "hi"}).status_code == 200


def test_another_keys_session_is_not_found(gateway: LiveGateway, admin: httpx.Client) -> None:
    session_id = admin.post("/api/chat", json={"message": "mine"}).json()["session_id"]
    other_key = create_key_for(gateway, Scope.CHAT)
    with gateway.client(other_key) as other:
        assert_error(
            other.post("/api/chat", json={"message": "yours?", "session_id": session_id}),
            404,
            "session_not_found",
        )
        assert_error(other.get(f"/api/sessions/{session_id}"), 404)
        assert_error(other.delete(f"/api/sessions/{session_id}"), 404)
        assert_error(other.get(f"/api/sessions/{session_id}/export"), 404)
        assert other.get("/api/sessions").json()["total"] == 0
    assert admin.get(f"/api/sessions/{session_id}").json()["message_count"] == 3


@pytest.mark.parametrize(
    ("failure", "status", "code"),
    [
        ({"fail_500_rate": 1.0}, 502, "upstream_error"),
        ({"fail_429_rate": 1.0}, 429, "upstream_rate_limited"),
    ],
)
def test_upstream_failures_map_to_statuses_and_keep_the_conversation(
    simulator_factory: SimulatorFactory,
    gateway_factory: GatewayFactory,
    failure: dict[str, float],
    status: int,
    code: str,
) -> None:
    healthy = simulator_factory()
    failing = simulator_factory(**failure)
    first = gateway_factory(upstream=healthy)
    with first.client(first.admin_key) as client:
        session_id = client.post("/api/chat", json={"message": "ok"}).json()["session_id"]
    first.server.stop()
    second = gateway_factory(
        upstream=failing, llm_model="thinkingthoughts-sim", llm_max_model_len=4096
    )
    with second.client(second.admin_key) as client:
        response = client.post("/api/chat", json={"message": "again", "session_id": session_id})
        messages = client.get(f"/api/sessions/{session_id}").json()["messages"]

    assert_error(response, status, code)
    if status == 429:
        assert int(response.headers["retry-after"]) >= 1
    assert [m["status"] for m in messages] == [
        "complete",
        "complete",
        "complete",
        "complete",
        "error",
    ]
    assert messages[3]["content"] == "again"


def test_an_unreachable_upstream_is_503(
    simulator_factory: SimulatorFactory, gateway_factory: GatewayFactory
) -> None:
    doomed = simulator_factory()
    live = gateway_factory(upstream=doomed)
    doomed.stop()
    with live.client(live.admin_key) as client:
        assert_error(client.post("/api/chat", json={"message": "hi"}), 503)
        assert client.get("/api/sessions").json()["total"] == 0


def test_a_slow_upstream_times_out_with_504(
    simulator_factory: SimulatorFactory, gateway_factory: GatewayFactory
) -> None:
    slow = simulator_factory(time_to_first_token=3.0)
    live = gateway_factory(upstream=slow, llm_request_timeout=0.5)
    with live.client(live.admin_key) as client:
        assert_error(client.post("/api/chat", json={"message": "hi"}), 504, "upstream_timeout")


def test_a_chunked_body_over_the_size_limit_is_refused_with_413(
    gateway_factory: GatewayFactory,
) -> None:
    """Without Content-Length the limit trips inside FastAPI's body read, which makes it a 400."""
    live = gateway_factory(max_request_bytes=2_000)

    def chunked_body() -> Iterator[bytes]:
        yield b'{"message": "'
        for _ in range(10):
            yield b"y" * 500
        yield b'"}'

    with live.client(live.admin_key) as client:
        response = client.post(
            "/api/chat", content=chunked_body(), headers={"content-type": "application/json"}
        )
    assert_error(response, 413, "payload_too_large")


def stalling_upstream(stall_seconds: float) -> ThreadedAiohttpServer:
    """A real OpenAI-compatible server that lists a model, then stalls before its headers."""

    async def models(_: web.Request) -> web.Response:
        return web.json_response({"data": [{"id": "m", "max_model_len": 4096}]})

    async def chat(_: web.Request) -> web.Response:
        await asyncio.sleep(stall_seconds)
        return web.json_response({"error": {"message": "too late"}}, status=500)

    app = web.Application()
    app.router.add_get("/v1/models", models)
    app.router.add_post("/v1/chat/completions", chat)
    server = ThreadedAiohttpServer(app)
    server.start()
    return server


def test_the_first_token_timeout_covers_an_upstream_that_withholds_its_headers(
    gateway_factory: GatewayFactory,
) -> None:
    """open_stream waits for headers under the whole-request timeout (600 s by default)."""
    stalling = stalling_upstream(stall_seconds=3.0)
    try:
        live = gateway_factory(
            llm_base_url=stalling.base_url, llm_first_token_timeout=0.5, llm_model="m"
        )
        with live.client(live.admin_key) as client:
            response = client.post("/api/chat", json={"message": "hi", "stream": True}, timeout=2.5)
        assert_error(response, 504, "upstream_timeout")
    finally:
        stalling.stop()
