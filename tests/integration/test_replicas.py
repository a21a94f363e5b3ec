"""Two gateway processes sharing one PostgreSQL and one Redis, as replicas do.

One per-key limit holds across both; a key revoked through one is refused by the other
within seconds; and neither process ever writes a key's secret to its logs.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import make_url

from tests.integration.gateway_processes import GatewayProcess
from tests.integration.live_servers import ThreadedSimulator

REVOCATION_DEADLINE = 5.0
BURST_LIMIT = 10
BURST_SIZE = 30


def assert_shown_only_in_the_first_start_banner(admin_key: str, logs: str) -> None:
    """The first start prints the admin key once, on purpose, in a banner; nowhere else."""
    banner = logs.index("First start: an admin API key was created")
    assert logs.index(admin_key) > banner
    assert logs.count(admin_key) == 1


def plain_url(asyncpg_url: str) -> str:
    """DATABASE_URL as an operator writes it (the gateway picks the driver)."""
    return make_url(asyncpg_url).set(drivername="postgresql").render_as_string(False)


@pytest.fixture
def replicas(
    tmp_path: Path,
    postgres_database_url: str,
    redis_url: str,
    simulator: ThreadedSimulator,
) -> tuple[GatewayProcess, GatewayProcess]:
    shared = {
        "DATABASE_URL": plain_url(postgres_database_url),
        "REDIS_URL": redis_url,
        "LLM_BASE_URL": simulator.base_url,
        "TT_LOG_LEVEL": "debug",
    }
    first = GatewayProcess(tmp_path / "first", shared)
    try:
        second = GatewayProcess(tmp_path / "second", shared)
    except BaseException:
        first.stop()
        raise
    return first, second


@pytest.mark.postgres
@pytest.mark.redis
def test_one_limit_and_one_revocation_hold_across_two_processes(
    replicas: tuple[GatewayProcess, GatewayProcess],
) -> None:
    first, second = replicas
    try:
        admin_key = first.admin_key()
        assert admin_key is not None
        assert second.admin_key() is None  # one database: the key exists already
        with first.client(admin_key) as admin:
            created = admin.post(
                "/api/keys",
                json={"name": "burst", "scopes": ["chat"], "requests_per_minute": BURST_LIMIT},
            )
        assert created.status_code == 201, created.text
        secret, key_id = created.json()["secret"], created.json()["key"]["id"]

        def call(index: int) -> int:
            replica = (first, second)[index % 2]
            with replica.client(secret) as client:
                return client.get("/api/personas").status_code

        with ThreadPoolExecutor(max_workers=8) as pool:
            statuses = list(pool.map(call, range(BURST_SIZE)))
        assert set(statuses) <= {200, 429}
        assert abs(statuses.count(200) - BURST_LIMIT) <= 1, statuses

        with first.client(admin_key) as admin:
            assert admin.delete(f"/api/keys/{key_id}").status_code == 200
        revoked_at = time.monotonic()
        with second.client(secret) as client:
            while (status := client.get("/api/traits").status_code) != 401:
                assert status in (200, 429)
                assert time.monotonic() - revoked_at < REVOCATION_DEADLINE
                time.sleep(0.1)
        with first.client(secret) as client:
            assert client.get("/api/traits").status_code == 401
    finally:
        logs = first.stop() + second.stop()
    assert "authenticated from 127.0.0.1" in logs  # debug logs were captured
    assert_shown_only_in_the_first_start_banner(admin_key, logs)
    assert secret not in logs


def test_keys_never_appear_in_the_logs(tmp_path: Path, simulator: ThreadedSimulator) -> None:
    """Every way a key can travel (header, bearer, a wrong key, a revoked key, a chat),
    at debug level: the log holds neither the secret nor the one refused."""
    with GatewayProcess(
        tmp_path, {"LLM_BASE_URL": simulator.base_url, "TT_LOG_LEVEL": "debug"}
    ) as gateway:
        admin_key = gateway.admin_key()
        assert admin_key is not None
        wrong_key = "tt_" + "W" * 43
        with gateway.client(admin_key) as admin:
            created = admin.post("/api/keys", json={"name": "logged?", "scopes": ["chat"]})
            secret = created.json()["secret"]
            assert admin.post(f"/api/keys/{created.json()['key']['id']}/rotate").status_code == 201
        with httpx.Client(base_url=gateway.base_url) as anonymous:
            bearer = {"Authorization": f"Bearer {admin_key}"}
            assert anonymous.post("/api/chat", json={"message": "hi"}, headers=bearer).is_success
            assert anonymous.get("/api/keys", headers={"x-api-key": wrong_key}).status_code == 401
            assert anonymous.get("/api/keys", headers={"x-api-key": secret}).status_code == 401
            stream = anonymous.post(
                "/v1/chat/completions",
                headers=bearer,
                json={
                    "model": "persona:seline",
                    "stream": True,
                    "messages": [{"role": "user", "content": "hello"}],
                },
            )
            assert stream.status_code == 200
        logs = gateway.stop()
    assert "authentication refused from 127.0.0.1: invalid_api_key" in logs  # logs were captured
    assert_shown_only_in_the_first_start_banner(admin_key, logs)
    for leaked in (secret, wrong_key):
        assert leaked not in logs
