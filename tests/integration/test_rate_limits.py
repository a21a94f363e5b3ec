"""Per-key request limits and the failed-authentication limit, in process and on Redis."""

from __future__ import annotations

import httpx
import openai
import pytest
from openai import OpenAI

from tests.integration.conftest import GatewayFactory
from tests.integration.live_servers import LiveGateway, create_key_for, on_database
from tests.integration.test_chat_errors import assert_error
from thinkingthoughts.access.api_keys import Scope
from thinkingthoughts.storage import message_store
from thinkingthoughts.storage.database import Database


def test_a_key_over_its_limit_gets_429_with_rate_limit_headers(
    gateway_factory: GatewayFactory,
) -> None:
    live = gateway_factory(key_requests_per_minute=3)
    other = create_key_for(live, Scope.READ)
    with live.client(live.admin_key) as client:
        answers = [client.get("/api/personas") for _ in range(4)]
        with live.client(other) as neighbour:
            assert neighbour.get("/api/personas").status_code == 200  # limits are per key

    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert [a.headers["x-ratelimit-remaining"] for a in answers] == ["2", "1", "0", "0"]
    assert {a.headers["x-ratelimit-limit"] for a in answers} == {"3"}
    refused = answers[-1]
    assert_error(refused, 429, "rate_limited")
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert 0 <= int(refused.headers["x-ratelimit-reset"]) <= 60


def test_a_refused_chat_stores_nothing(gateway_factory: GatewayFactory) -> None:
    live = gateway_factory(key_requests_per_minute=2)
    with live.client(live.admin_key) as client:
        first = client.post("/api/chat", json={"message": "one"}).json()
        client.get(f"/api/sessions/{first['session_id']}")
        assert_error(
            client.post("/api/chat", json={"message": "two", "session_id": first["session_id"]}),
            429,
        )

    async def stored_messages(database: Database) -> int:
        async with database.session() as db:
            return await message_store.count_messages(db, session_id=first["session_id"])

    url = live.server.settings.resolved_database_url
    assert on_database(url, stored_messages) == 3  # greeting, "one", its reply


def test_the_openai_surface_raises_rate_limit_errors(gateway_factory: GatewayFactory) -> None:
    live = gateway_factory(key_requests_per_minute=1)
    with OpenAI(base_url=live.base_url + "/v1", api_key=live.admin_key, max_retries=0) as sdk:
        sdk.models.list()
        with pytest.raises(openai.RateLimitError) as caught:
            sdk.models.list()
    assert set(caught.value.response.json()["error"]) == {"message", "type", "param", "code"}
    assert caught.value.response.headers["x-ratelimit-limit"] == "1"


def test_an_address_that_keeps_failing_to_authenticate_is_refused(
    gateway_factory: GatewayFactory,
) -> None:
    live = gateway_factory(auth_failures_per_minute=3)
    with live.client("tt_guess") as guesser:
        statuses = [guesser.get("/api/personas").status_code for _ in range(4)]
    assert statuses == [401, 401, 401, 429]
    with live.client(live.admin_key) as same_address:
        assert_error(same_address.get("/api/personas"), 429)


def test_health_is_never_limited(gateway_factory: GatewayFactory) -> None:
    live = gateway_factory(key_requests_per_minute=1, auth_failures_per_minute=1)
    assert all(httpx.get(live.base_url + "/health").status_code == 200 for _ in range(3))


@pytest.mark.redis
def test_one_limit_holds_across_two_gateways_sharing_redis(
    gateway_factory: GatewayFactory, redis_url: str
) -> None:
    first = gateway_factory(key_requests_per_minute=5, redis_url=redis_url)
    second = gateway_factory(key_requests_per_minute=5, redis_url=redis_url)
    assert first.admin_key == second.admin_key  # one database, one key
    with first.client(first.admin_key) as a, second.client(second.admin_key) as b:
        statuses = [(a if i % 2 else b).get("/api/personas").status_code for i in range(8)]
    assert statuses.count(200) == 5
    assert statuses[5:] == [429, 429, 429]


@pytest.mark.parametrize(("fail_open", "status"), [(True, 200), (False, 503)])
def test_an_unreachable_redis_follows_the_fail_open_setting(
    gateway_factory: GatewayFactory, fail_open: bool, status: int
) -> None:
    live = gateway_factory(
        key_requests_per_minute=5,
        redis_url="redis://127.0.0.1:1/0",
        rate_limit_fail_open=fail_open,
    )
    with live.client(live.admin_key) as client:
        response = client.get("/api/personas")
    assert response.status_code == status
    if status == 503:
        assert_error(response, 503, "rate_limiter_unavailable")


def test_limits_are_off_by_default(gateway: LiveGateway, admin: httpx.Client) -> None:
    answers = [admin.get("/api/personas") for _ in range(5)]
    assert all(a.status_code == 200 for a in answers)
    assert "x-ratelimit-limit" not in answers[0].headers
