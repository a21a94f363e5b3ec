"""A concurrent burst against one key's tokens per minute, split across two gateways
sharing Redis: each turn reserves its whole prompt and its reply's ceiling before it is
stored, so what is admitted stays within the limit but for at most one request."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.integration.conftest import GatewayFactory, SimulatorFactory
from tests.integration.test_key_limits import new_key

BURST = 32
TOKENS_PER_MINUTE = 3000
REPLY_TOKENS = 100


@pytest.mark.redis
def test_a_concurrent_burst_on_two_gateways_overshoots_the_token_limit_by_at_most_one_request(
    simulator_factory: SimulatorFactory, gateway_factory: GatewayFactory, redis_url: str
) -> None:
    # Replies that use their whole ceiling and overlap: the worst case for the window.
    upstream = simulator_factory(reply_tokens=REPLY_TOKENS, time_to_first_token=0.2)
    gateways = [
        gateway_factory(upstream=upstream, redis_url=redis_url, max_tokens=REPLY_TOKENS)
        for _ in range(2)
    ]
    key = new_key(gateways[0], tokens_per_minute=TOKENS_PER_MINUTE)
    start = threading.Barrier(BURST)

    def chat(index: int) -> httpx.Response:
        with gateways[index % 2].client(key) as client:
            start.wait()
            return client.post("/api/chat", json={"message": f"burst message {index}"})

    with ThreadPoolExecutor(BURST) as pool:
        answers = list(pool.map(chat, range(BURST)))

    admitted = [a.json()["usage"]["total_tokens"] for a in answers if a.status_code == 200]
    assert {a.status_code for a in answers} <= {200, 429}
    assert admitted, "the burst's first turns fit the window"
    overshoot = sum(admitted) - TOKENS_PER_MINUTE
    print(f"burst: {len(admitted)}/{BURST} admitted, {sum(admitted)} tokens, overshoot {overshoot}")
    assert overshoot <= max(admitted)
