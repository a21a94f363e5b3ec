"""The database goes away: a live gateway on a PostgreSQL server of the test's own, which
the test stops or freezes (SIGSTOP). Every route answers 503 `database_unavailable`
within a bounded time (OpenAI's shape on /v1), readiness says so, a turn in flight ends
its stream with an error, and the gateway recovers on its own once the database is back.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import text

from tests.integration.conftest import SimulatorFactory
from tests.integration.live_servers import ThreadedGateway
from tests.integration.private_postgres import PrivatePostgres, private_postgres
from tests.integration.test_chat_streaming import sse_events
from thinkingthoughts.settings import Settings
from thinkingthoughts.storage.database import Database, DatabaseTimeouts

TIMEOUT_SETTING = 1.0
"""Connect and statement timeouts of the gateway under test, in seconds."""
ANSWER_BOUND = 5.0
"""A 503 must come this fast, whatever the database does."""
RECOVERY_BOUND = 20.0

Route = tuple[str, str, dict[str, Any] | None]
NATIVE_SHAPE = {"type", "message", "code"}
OPENAI_SHAPE = {"message", "type", "param", "code"}

NATIVE_ROUTES: tuple[Route, ...] = (
    ("GET", "/api/sessions", None),
    ("GET", "/api/personas", None),
    ("POST", "/api/chat", {"message": "hello?"}),
    ("POST", "/api/chat", {"message": "hello?", "stream": True}),
)
OPENAI_ROUTES: tuple[Route, ...] = (
    ("GET", "/v1/models", None),
    (
        "POST",
        "/v1/chat/completions",
        {"model": "persona:seline", "messages": [{"role": "user", "content": "hello?"}]},
    ),
)


@pytest.fixture
def postgres_server() -> Iterator[PrivatePostgres]:
    with private_postgres() as server:
        yield server


@pytest.fixture
def gateway(
    postgres_server: PrivatePostgres, simulator_factory: SimulatorFactory, tmp_path: Path
) -> Iterator[ThreadedGateway]:
    # Slow enough replies that a stream is still running when the database goes.
    simulator = simulator_factory(inter_token_latency=0.02, reply_tokens=150)
    settings = Settings(
        _env_file=None,
        data_dir=tmp_path / "data",
        database_url=postgres_server.url,
        llm_base_url=simulator.base_url,
        database_connect_timeout=TIMEOUT_SETTING,
        database_statement_timeout=TIMEOUT_SETTING,
        key_cache_seconds=0,
        persona_cache_seconds=0,
    )
    server = ThreadedGateway(settings, announce=lambda _: None)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def admin_client(gateway: ThreadedGateway) -> httpx.Client:
    return gateway.client(gateway.settings.admin_key_file.read_text().strip())


def call(
    client: httpx.Client, method: str, path: str, body: Any
) -> tuple[int, dict[str, Any], float]:
    started = time.monotonic()
    response = client.request(method, path, json=body, timeout=ANSWER_BOUND * 3)
    return response.status_code, response.json(), time.monotonic() - started


def assert_every_route_answers_database_unavailable(client: httpx.Client) -> None:
    for routes, shape in ((NATIVE_ROUTES, NATIVE_SHAPE), (OPENAI_ROUTES, OPENAI_SHAPE)):
        for method, path, body in routes:
            status, payload, elapsed = call(client, method, path, body)
            assert (status, payload["error"]["code"]) == (503, "database_unavailable"), path
            assert set(payload["error"]) == shape
            assert elapsed < ANSWER_BOUND, f"{path} took {elapsed:.1f} s"
    started = time.monotonic()
    ready = client.get("/health/ready", timeout=ANSWER_BOUND * 3)
    assert ready.status_code == 503
    assert ready.json()["checks"]["database"] != "ok"
    assert ready.json()["checks"]["upstream"] == "ok"
    assert time.monotonic() - started < ANSWER_BOUND


def assert_recovers(client: httpx.Client) -> None:
    deadline = time.monotonic() + RECOVERY_BOUND
    while client.get("/health/ready").status_code != 200:
        assert time.monotonic() < deadline, "the gateway did not recover"
        time.sleep(0.1)
    for method, path, body in (*NATIVE_ROUTES, *OPENAI_ROUTES):
        assert client.request(method, path, json=body).status_code == 200, path


@pytest.mark.postgres
def test_a_stopped_database_is_a_bounded_503_on_every_route_then_recovery(
    gateway: ThreadedGateway, postgres_server: PrivatePostgres
) -> None:
    with admin_client(gateway) as client:
        assert client.get("/api/sessions").status_code == 200  # pooled connections exist
        postgres_server.stop()
        assert_every_route_answers_database_unavailable(client)
        postgres_server.start()
        assert_recovers(client)


@pytest.mark.postgres
def test_a_frozen_database_is_a_bounded_503_on_every_route_then_recovery(
    gateway: ThreadedGateway, postgres_server: PrivatePostgres
) -> None:
    with admin_client(gateway) as client:
        assert client.get("/api/sessions").status_code == 200
        postgres_server.freeze()
        try:
            assert_every_route_answers_database_unavailable(client)
        finally:
            postgres_server.thaw()
        assert_recovers(client)


def openai_data_events(response: httpx.Response) -> Iterator[str]:
    for line in response.iter_lines():
        if line.startswith("data:"):
            yield line.partition(":")[2].strip()


@pytest.mark.postgres
def test_streams_in_flight_when_the_database_goes_end_with_an_error_event(
    gateway: ThreadedGateway, postgres_server: PrivatePostgres
) -> None:
    with admin_client(gateway) as client:
        native_request = {"message": "a long story", "stream": True}
        openai_request = {
            "model": "persona:seline",
            "stream": True,
            "messages": [{"role": "user", "content": "a long story"}],
        }
        with (
            client.stream("POST", "/api/chat", json=native_request) as native,
            client.stream(
                "POST",
                "/v1/chat/completions",
                json=openai_request,
                headers={"X-Session-Id": "new"},
            ) as openai,
        ):
            native_events = sse_events(native)
            assert next(native_events)[0] == "start"
            assert next(native_events)[0] == "delta"
            openai_events = openai_data_events(openai)
            assert "choices" in orjson.loads(next(openai_events))
            postgres_server.stop()
            rest_native = list(native_events)
            rest_openai = list(openai_events)

    last_name, last_data = rest_native[-1]
    assert last_name == "error"
    assert last_data["error"]["code"] == "database_unavailable"
    assert "done" not in [name for name, _ in rest_native]
    assert "[DONE]" not in rest_openai
    last_openai = orjson.loads(rest_openai[-1])
    assert last_openai["error"]["code"] == "database_unavailable"
    assert set(last_openai["error"]) == OPENAI_SHAPE


@pytest.mark.postgres
async def test_a_request_session_the_database_cannot_take_back_is_dropped_not_raised(
    postgres_server: PrivatePostgres,
) -> None:
    # A request's session is closed after its answer was sent: a failure then (the
    # database froze meanwhile) must not reach the server as an error after the answer.
    timeouts = DatabaseTimeouts(connect=TIMEOUT_SETTING, statement=TIMEOUT_SETTING)
    database = Database(postgres_server.url, timeouts=timeouts)
    try:
        async with database.request_session() as db:
            assert (await db.execute(text("SELECT 1"))).scalar() == 1
            postgres_server.freeze()
        postgres_server.thaw()
        async with database.request_session() as db:  # and the pool still serves
            assert (await db.execute(text("SELECT 1"))).scalar() == 1
    finally:
        postgres_server.thaw()
        await database.dispose()
