"""A Redis that hangs, stops or goes away: limits fail fast (open or closed as set), come
back on their own, and never turn a delivered reply into a failure.

The faults are real: a listening socket that never answers (a Redis that accepts
connections and hangs), and a redis-server of the test's own, stopped with SIGSTOP.
"""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest
import redis
from sqlalchemy import select

from tests.integration.conftest import GatewayFactory, SimulatorFactory
from tests.integration.live_servers import LiveGateway, on_database
from tests.integration.test_chat_streaming import sse_events, wait_until
from tests.integration.test_key_limits import new_key
from tests.manual_clock import ManualClock
from thinkingthoughts.launcher import free_port
from thinkingthoughts.storage.database import Database
from thinkingthoughts.storage.models import KeyUsage, Message
from thinkingthoughts.usage.storage_guard import CircuitBreaker

REQUESTS = 10
FAULT_BOUND_SECONDS = 1.0
"""What any one request may take while Redis hangs (the client's timeout is 0.1 s)."""
START_SECONDS = 10.0
PACED_REPLY = {"inter_token_latency": 0.02, "reply_tokens": 40}
"""About 0.8 s of reply: time enough to stop Redis while it is generated."""


@dataclass
class RedisServer:
    """A redis-server of the test's own, which it may stop (SIGSTOP) and resume."""

    process: subprocess.Popen[bytes]
    port: int

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def freeze(self) -> None:
        self.process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        self.process.send_signal(signal.SIGCONT)


@pytest.fixture
def private_redis() -> Iterator[RedisServer]:
    port = free_port()
    process = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", ""],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    server = RedisServer(process, port)
    try:
        client = redis.Redis(port=port, socket_timeout=1, socket_connect_timeout=1)
        wait_until(lambda: _answers(client), timeout=START_SECONDS)
        client.close()
        yield server
    finally:
        server.thaw()
        process.kill()
        process.wait()


def _answers(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False


@pytest.fixture
def hung_redis_url() -> Iterator[str]:
    """A Redis that accepts connections and never answers: a listening socket nobody
    accepts from (the kernel completes the handshakes; no byte ever comes back)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(128)
        yield f"redis://127.0.0.1:{listener.getsockname()[1]}/0"


def timed_requests(live: LiveGateway, count: int) -> tuple[list[int], list[float]]:
    """Statuses and seconds of `count` requests one after another."""
    statuses, seconds = [], []
    with live.client(live.admin_key, timeout=10) as client:
        for _ in range(count):
            started = time.perf_counter()
            statuses.append(client.get("/api/personas").status_code)
            seconds.append(time.perf_counter() - started)
    return statuses, seconds


@pytest.mark.parametrize(("fail_open", "status"), [(True, 200), (False, 503)])
def test_a_hung_redis_costs_one_short_timeout_then_requests_fail_fast(
    gateway_factory: GatewayFactory, hung_redis_url: str, fail_open: bool, status: int
) -> None:
    live = gateway_factory(
        key_requests_per_minute=100,
        redis_url=hung_redis_url,
        rate_limit_fail_open=fail_open,
    )
    statuses, seconds = timed_requests(live, REQUESTS)

    assert statuses == [status] * REQUESTS
    assert max(seconds) < FAULT_BOUND_SECONDS, seconds
    # Once the first call has timed out, none waits for Redis again.
    assert sum(seconds[1:]) < FAULT_BOUND_SECONDS, seconds


def test_limits_apply_again_once_redis_answers(
    gateway_factory: GatewayFactory, private_redis: RedisServer
) -> None:
    live = gateway_factory(
        key_requests_per_minute=100, redis_url=private_redis.url, rate_limit_retry_seconds=0.2
    )
    with live.client(live.admin_key, timeout=10) as client:
        assert client.get("/api/personas").headers["x-ratelimit-limit"] == "100"
        private_redis.freeze()
        failed_open = client.get("/api/personas")
        private_redis.thaw()
        wait_until(lambda: "x-ratelimit-limit" in client.get("/api/personas").headers)

    assert failed_open.status_code == 200
    assert "x-ratelimit-limit" not in failed_open.headers


async def test_an_open_breaker_skips_the_storage_until_a_probe_answers() -> None:
    clock = ManualClock()
    answers = [False, True]
    probes: list[float] = []

    async def probe() -> bool:
        probes.append(clock())
        return answers.pop(0)

    breaker = CircuitBreaker(open_seconds=5, probe=probe, clock=clock)
    assert breaker.allows()
    breaker.record_failure()
    assert not breaker.allows()
    clock.now += 5
    assert not breaker.allows()  # the period is over: a probe starts, this call still skips
    await asyncio.sleep(0)
    assert probes == [clock.now]
    assert not breaker.allows()  # the probe failed: open again
    clock.now += 5
    assert not breaker.allows()
    await asyncio.sleep(0)
    assert probes[-1] == clock.now
    assert breaker.allows()  # the probe answered: closed
    await breaker.close()


def stored_reply_and_usage(live: LiveGateway) -> tuple[list[Any], list[tuple[int, int, int]]]:
    """Every assistant message's (status, tokens) and every usage row's figures."""

    async def read(database: Database) -> tuple[list[Any], list[tuple[int, int, int]]]:
        async with database.session() as db:
            replies = (
                await db.execute(
                    select(Message.status, Message.prompt_tokens, Message.completion_tokens).where(
                        Message.role == "assistant", Message.prompt_tokens.is_not(None)
                    )
                )
            ).all()
            usage = (
                await db.execute(
                    select(KeyUsage.requests, KeyUsage.prompt_tokens, KeyUsage.completion_tokens)
                )
            ).all()
        return [tuple(r) for r in replies], [(int(u[0]), int(u[1]), int(u[2])) for u in usage]

    return on_database(live.server.settings.resolved_database_url, read)


@pytest.mark.parametrize("stream", [True, False])
def test_a_reply_whose_redis_stops_mid_turn_is_delivered_stored_and_accounted(
    simulator_factory: SimulatorFactory,
    gateway_factory: GatewayFactory,
    private_redis: RedisServer,
    stream: bool,
) -> None:
    upstream = simulator_factory(**PACED_REPLY)
    live = gateway_factory(
        upstream=upstream,
        redis_url=private_redis.url,
        rate_limit_fail_open=False,
        usage_flush_seconds=0,
    )
    key = new_key(live, tokens_per_minute=1_000_000, concurrent_streams=2)
    chat = {"message": "hi", "stream": stream}
    with live.client(key, timeout=10) as client:
        if stream:
            with client.stream("POST", "/api/chat", json=chat) as response:
                assert response.status_code == 200
                events = sse_events(response)
                assert next(events)[0] == "start"
                private_redis.freeze()
                rest = list(events)
            assert rest[-1][0] == "done", rest[-1]
            usage = rest[-1][1]["usage"]
        else:
            with ThreadPoolExecutor(1) as pool:
                answer = pool.submit(client.post, "/api/chat", json=chat)
                wait_until(lambda: len(upstream.recorded_requests()) == 1)
                private_redis.freeze()
                response = answer.result()
            assert response.status_code == 200, response.text
            usage = response.json()["usage"]

    # Read while Redis is still stopped: nothing of the turn waits for it.
    replies, usage_rows = stored_reply_and_usage(live)
    assert replies == [("complete", usage["prompt_tokens"], usage["completion_tokens"])]
    assert usage_rows == [(1, usage["prompt_tokens"], usage["completion_tokens"])]
