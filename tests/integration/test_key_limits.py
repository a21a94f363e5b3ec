"""Each key's own limits: requests and tokens per minute, concurrent streams; the 429s
they cause and the rate-limit counters on /metrics, in process and on Redis."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import Any

import httpx
import openai
import pytest
from openai import OpenAI
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select

from tests.integration.conftest import GatewayFactory, SimulatorFactory
from tests.integration.live_servers import LiveGateway, ThreadedSimulator, on_database
from tests.integration.test_chat_errors import assert_error
from tests.integration.test_chat_streaming import sse_events, wait_until
from thinkingthoughts.context.tokens import estimate_prompt_tokens
from thinkingthoughts.storage.database import Database
from thinkingthoughts.storage.models import ChatSession, Message

LONG_MESSAGE = "tell me more about it " * 40
"""A prompt whose estimate (over 250 tokens) is more than a small token budget: such a
request fits only a window that is all but empty, so its refusal does not hang on how
the window weighs the minute before."""
QUICK_CHAT = {"message": "hi", "max_tokens": 1}
"""A chat that ends after one token even on a slow upstream."""
SLOW_REPLY = {"inter_token_latency": 0.05, "reply_tokens": 40}
"""An upstream whose streamed reply stays open for about two seconds."""
SLOT_FREED_SECONDS = 5.0
RACE_ROUNDS = 20
"""Streams in a row, each followed at once by the next request (the race was 3 in 15)."""
LONGEST_WAIT = 120
"""A token window is two one-minute counters: a full one drains within two minutes."""
UNREACHABLE_REDIS = "redis://127.0.0.1:1/0"
RATE_LIMITED = "tt_rate_limited_requests_total"
STORAGE_ERRORS = "tt_rate_limiter_storage_errors_total"


def new_key(live: LiveGateway, **policy: Any) -> str:
    """The secret of a new chat key, made with the admin key and these limits."""
    with live.client(live.admin_key) as admin:
        response = admin.post("/api/keys", json={"name": "limited", "scopes": ["chat"], **policy})
    assert response.status_code == 201, response.text
    return str(response.json()["secret"])


def stored_rows(live: LiveGateway) -> tuple[int, int]:
    """How many sessions and messages the gateway's database holds."""

    async def count(database: Database) -> tuple[int, int]:
        async with database.session() as db:
            sessions = await db.scalar(select(func.count()).select_from(ChatSession))
            messages = await db.scalar(select(func.count()).select_from(Message))
        return sessions or 0, messages or 0

    return on_database(live.server.settings.resolved_database_url, count)


def assert_refused(response: httpx.Response, limit: int, what: str) -> None:
    """A 429 in the native shape, naming the limit, with every rate-limit header."""
    assert_error(response, 429, "rate_limited")
    assert response.json()["error"]["type"] == "rate_limit_error"
    assert what in response.json()["error"]["message"]
    assert 1 <= int(response.headers["retry-after"]) <= LONGEST_WAIT
    assert response.headers["x-ratelimit-limit"] == str(limit)
    assert response.headers["x-ratelimit-remaining"] == "0"
    assert 0 <= int(response.headers["x-ratelimit-reset"]) <= LONGEST_WAIT


def scrape(live: LiveGateway) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample /metrics shows, by name and labels; it needs no key."""
    response = httpx.get(live.base_url + "/metrics")
    assert response.status_code == 200
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def increase(
    before: dict[tuple[str, frozenset[tuple[str, str]]], float],
    after: dict[tuple[str, frozenset[tuple[str, str]]], float],
    name: str,
    **labels: str,
) -> float:
    """How much a counter grew between two scrapes (a counter not yet shown is 0)."""
    key = (name, frozenset(labels.items()))
    return after.get(key, 0.0) - before.get(key, 0.0)


def open_stream(client: httpx.Client) -> AbstractContextManager[httpx.Response]:
    """A streamed native chat, open while the context lasts."""
    return client.stream("POST", "/api/chat", json={"message": "stream please", "stream": True})


def first_event(response: httpx.Response) -> Iterator[tuple[str, dict[str, Any]]]:
    """The rest of the stream's events, once the first one arrived. Keep the iterator
    while the stream should stay open: dropping it closes the connection."""
    assert response.status_code == 200, response.read()
    events = sse_events(response)
    assert next(events)[0] == "start"
    return events


# Requests per minute


def test_a_keys_own_request_limit_refuses_its_third_request(
    gateway_factory: GatewayFactory,
) -> None:
    live = gateway_factory(key_requests_per_minute=5)
    own = new_key(live, requests_per_minute=2)
    default = new_key(live)
    with live.client(own) as client:
        answers = [client.get("/api/personas") for _ in range(3)]
    with live.client(default) as client:
        by_default = [client.get("/api/personas") for _ in range(6)]

    assert [a.status_code for a in answers] == [200, 200, 429]
    assert {a.headers["x-ratelimit-limit"] for a in answers} == {"2"}
    assert_refused(answers[-1], 2, "requests per minute")
    assert [a.status_code for a in by_default] == [200] * 5 + [429]
    assert {a.headers["x-ratelimit-limit"] for a in by_default} == {"5"}


def test_a_key_with_a_request_limit_of_zero_is_unlimited_under_a_gateway_default(
    gateway_factory: GatewayFactory,
) -> None:
    live = gateway_factory(key_requests_per_minute=1)
    unlimited = new_key(live, requests_per_minute=0)  # the admin key's one request
    with live.client(unlimited) as client:
        answers = [client.get("/api/personas") for _ in range(5)]
    with live.client(live.admin_key) as admin:
        assert_refused(admin.get("/api/personas"), 1, "requests per minute")

    assert [a.status_code for a in answers] == [200] * 5
    assert "x-ratelimit-limit" not in answers[0].headers


# Tokens per minute


def test_tokens_are_charged_with_the_upstreams_usage_after_the_reply(
    simulator_factory: SimulatorFactory, gateway_factory: GatewayFactory
) -> None:
    """A budget above the prompt estimate and the next prompt together, but below what
    the first turn used: only the usage charged after the reply fills the window."""
    upstream = simulator_factory(reply_tokens=1000, max_model_len=8192)
    live = gateway_factory(upstream=upstream, max_tokens=1000)
    with live.client(new_key(live)) as probe:
        usage = probe.post("/api/chat", json={"message": "hi"}).json()["usage"]
    sent = upstream.recorded_requests()[-1]["messages"]
    charged_before = estimate_prompt_tokens(sent)
    next_prompt = estimate_prompt_tokens([{"content": LONG_MESSAGE}])
    budget = charged_before + next_prompt + 100
    assert budget < usage["total_tokens"]

    with live.client(new_key(live, tokens_per_minute=budget)) as client:
        first = client.post("/api/chat", json={"message": "hi"})
        assert first.status_code == 200, first.text
        assert upstream.recorded_requests()[-1]["messages"] == sent
        rows = stored_rows(live)
        refused = client.post(
            "/api/chat", json={"message": LONG_MESSAGE, "session_id": first.json()["session_id"]}
        )

    assert_refused(refused, budget, "tokens per minute")
    assert stored_rows(live) == rows


def test_a_budget_below_one_replys_usage_refuses_the_second_chat_and_stores_nothing(
    simulator_factory: SimulatorFactory, gateway_factory: GatewayFactory
) -> None:
    live = gateway_factory(upstream=simulator_factory(reply_tokens=200))
    small = new_key(live, tokens_per_minute=100)
    huge = new_key(live, tokens_per_minute=10_000_000)
    with live.client(small) as client:
        first = client.post("/api/chat", json={"message": "hi"})
        assert first.status_code == 200, first.text
        assert first.json()["usage"]["total_tokens"] > 100
        rows = stored_rows(live)
        refused = client.post(
            "/api/chat", json={"message": LONG_MESSAGE, "session_id": first.json()["session_id"]}
        )
        refused_stream = client.post("/api/chat", json={"message": LONG_MESSAGE, "stream": True})
        rows_after = stored_rows(live)
    with live.client(huge) as client:
        plenty = [client.post("/api/chat", json={"message": LONG_MESSAGE}) for _ in range(2)]

    assert_refused(refused, 100, "tokens per minute")
    assert_refused(refused_stream, 100, "tokens per minute")
    assert rows_after == rows
    assert [a.status_code for a in plenty] == [200, 200]


def test_the_gateway_token_default_applies_to_keys_without_their_own(
    gateway_factory: GatewayFactory,
) -> None:
    live = gateway_factory(key_tokens_per_minute=100)
    with live.client(new_key(live)) as client:
        statuses = [client.post("/api/chat", json={"message": LONG_MESSAGE}) for _ in range(2)]
    with live.client(new_key(live, tokens_per_minute=0)) as client:
        unlimited = [client.post("/api/chat", json={"message": LONG_MESSAGE}) for _ in range(3)]

    assert statuses[0].status_code == 200
    assert_refused(statuses[1], 100, "tokens per minute")
    assert [a.status_code for a in unlimited] == [200, 200, 200]


def test_the_openai_route_refuses_an_exhausted_token_budget_in_openais_shape(
    gateway_factory: GatewayFactory,
) -> None:
    live = gateway_factory()
    key = new_key(live, tokens_per_minute=100)
    with OpenAI(base_url=live.base_url + "/v1", api_key=key, max_retries=0) as sdk:
        first = sdk.chat.completions.with_raw_response.create(
            model="persona:seline",
            messages=[{"role": "user", "content": "hi"}],
            extra_headers={"X-Session-Id": "new"},
        )
        session = {"X-Session-Id": first.headers["x-session-id"]}
        rows = stored_rows(live)
        with pytest.raises(openai.RateLimitError) as caught:
            sdk.chat.completions.create(
                model="persona:seline",
                messages=[{"role": "user", "content": LONG_MESSAGE}],
                extra_headers=session,
            )

    response = caught.value.response
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert (error["type"], error["code"]) == ("rate_limit_error", "rate_limited")
    assert "tokens per minute" in error["message"]
    assert 1 <= int(response.headers["retry-after"]) <= LONGEST_WAIT
    assert response.headers["x-ratelimit-limit"] == "100"
    assert response.headers["x-ratelimit-remaining"] == "0"
    assert stored_rows(live) == rows


@pytest.mark.redis
def test_one_token_window_holds_across_two_gateways_sharing_redis(
    gateway_factory: GatewayFactory, redis_url: str
) -> None:
    first = gateway_factory(redis_url=redis_url)
    second = gateway_factory(redis_url=redis_url)
    key = new_key(first, tokens_per_minute=100)
    with first.client(key) as on_first:
        assert on_first.post("/api/chat", json={"message": "hi"}).status_code == 200
    with second.client(key) as on_second:
        refused = on_second.post("/api/chat", json={"message": LONG_MESSAGE})
    with second.client(new_key(second, tokens_per_minute=100)) as fresh:
        accepted = fresh.post("/api/chat", json={"message": LONG_MESSAGE})

    assert_refused(refused, 100, "tokens per minute")
    assert accepted.status_code == 200, accepted.text


# Concurrent streams


def test_an_open_stream_holds_the_keys_only_slot_until_it_ends(
    simulator_factory: SimulatorFactory, gateway_factory: GatewayFactory
) -> None:
    live = gateway_factory(upstream=simulator_factory(**SLOW_REPLY))
    key = new_key(live, concurrent_streams=1)
    neighbour = new_key(live, concurrent_streams=1)
    with live.client(key) as client, live.client(neighbour) as other:
        with open_stream(client) as opened:
            events = first_event(opened)
            refused = client.post("/api/chat", json=QUICK_CHAT)
            refused_stream = client.post("/api/chat", json={**QUICK_CHAT, "stream": True})
            beside = other.post("/api/chat", json=QUICK_CHAT)
            rest = [name for name, _ in events]
        after = client.post("/api/chat", json=QUICK_CHAT)

    for answer in (refused, refused_stream):
        assert_refused(answer, 1, "concurrent streams")
    assert beside.status_code == 200, beside.text
    assert rest[-1] == "done"
    assert after.status_code == 200, after.text


def test_an_openai_stream_holds_a_slot_until_it_ends(
    simulator_factory: SimulatorFactory, gateway_factory: GatewayFactory
) -> None:
    live = gateway_factory(upstream=simulator_factory(**SLOW_REPLY))
    streamed = {"model": "persona:seline", "messages": [{"role": "user", "content": "hi"}]}
    body = {**streamed, "max_tokens": 1}
    with live.client(new_key(live, concurrent_streams=1)) as client:
        with client.stream("POST", "/v1/chat/completions", json={**streamed, "stream": True}) as r:
            assert r.status_code == 200
            lines = r.iter_lines()
            assert next(line for line in lines if line).startswith("data:")
            refused = client.post("/v1/chat/completions", json=body)
            rest = [line for line in lines if line]
        after = client.post("/v1/chat/completions", json=body)

    assert refused.status_code == 429
    error = refused.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["code"] == "rate_limited"
    assert "concurrent streams" in error["message"]
    assert rest[-1] == "data: [DONE]"
    assert after.status_code == 200, after.text


def test_a_client_leaving_mid_stream_gives_its_slot_back(
    simulator_factory: SimulatorFactory, gateway_factory: GatewayFactory
) -> None:
    # The reply would run far longer than the wait below: only leaving frees the slot.
    live = gateway_factory(upstream=simulator_factory(inter_token_latency=0.05, reply_tokens=400))
    with live.client(new_key(live, concurrent_streams=1)) as client:
        with open_stream(client) as opened:
            events = first_event(opened)
            assert_refused(client.post("/api/chat", json=QUICK_CHAT), 1, "concurrent streams")
            assert next(events)[0] == "delta"  # still open when it was refused
        wait_until(
            lambda: client.post("/api/chat", json=QUICK_CHAT).status_code == 200,
            timeout=SLOT_FREED_SECONDS,
        )


def test_a_request_sent_the_moment_a_native_stream_is_done_finds_the_slot_free(
    gateway_factory: GatewayFactory,
) -> None:
    live = gateway_factory()
    statuses = []
    with live.client(new_key(live, concurrent_streams=1)) as client:
        for _ in range(RACE_ROUNDS):
            with open_stream(client) as opened:
                for name, _ in first_event(opened):
                    if name == "done":
                        statuses.append(client.post("/api/chat", json=QUICK_CHAT).status_code)
    assert statuses == [200] * RACE_ROUNDS


def test_a_request_sent_the_moment_an_openai_stream_is_done_finds_the_slot_free(
    gateway_factory: GatewayFactory,
) -> None:
    live = gateway_factory()
    chat = {"model": "persona:seline", "messages": [{"role": "user", "content": "hi"}]}
    statuses = []
    with live.client(new_key(live, concurrent_streams=1)) as client:
        for _ in range(RACE_ROUNDS):
            with client.stream("POST", "/v1/chat/completions", json={**chat, "stream": True}) as r:
                for line in r.iter_lines():
                    if line == "data: [DONE]":
                        answer = client.post("/v1/chat/completions", json={**chat, "max_tokens": 1})
                        statuses.append(answer.status_code)
    assert statuses == [200] * RACE_ROUNDS


@pytest.mark.redis
def test_a_stream_on_one_gateway_blocks_the_same_key_on_another_sharing_redis(
    simulator_factory: SimulatorFactory, gateway_factory: GatewayFactory, redis_url: str
) -> None:
    slow = simulator_factory(**SLOW_REPLY)
    first = gateway_factory(upstream=slow, redis_url=redis_url)
    second = gateway_factory(upstream=slow, redis_url=redis_url)
    key = new_key(first, concurrent_streams=1)
    with first.client(key) as on_first, second.client(key) as on_second:
        with open_stream(on_first) as opened:
            events = first_event(opened)
            refused = on_second.post("/api/chat", json=QUICK_CHAT)
            rest = [name for name, _ in events]
        wait_until(
            lambda: on_second.post("/api/chat", json=QUICK_CHAT).status_code == 200,
            timeout=SLOT_FREED_SECONDS,
        )

    assert_refused(refused, 1, "concurrent streams")
    assert rest[-1] == "done"


# Metrics


def test_metrics_count_each_refusal_by_the_limit_that_refused_it(
    simulator_factory: SimulatorFactory, gateway_factory: GatewayFactory
) -> None:
    live = gateway_factory(upstream=simulator_factory(**SLOW_REPLY))
    by_requests = new_key(live, requests_per_minute=1)
    by_tokens = new_key(live, tokens_per_minute=100)
    by_streams = new_key(live, concurrent_streams=1)
    before = scrape(live)
    with live.client(by_requests) as client:
        statuses = [client.get("/api/personas").status_code for _ in range(3)]
    with live.client(by_tokens) as client:
        for message in ("hi", LONG_MESSAGE):
            chat = {"message": message, "max_tokens": 1}
            statuses.append(client.post("/api/chat", json=chat).status_code)
    with live.client(by_streams) as client, open_stream(client) as opened:
        events = first_event(opened)
        statuses.append(client.post("/api/chat", json=QUICK_CHAT).status_code)
        assert next(events)[0] == "delta"
    after = scrape(live)

    assert statuses == [200, 429, 429, 200, 429, 429]
    assert increase(before, after, RATE_LIMITED, limit="requests") == 2
    assert increase(before, after, RATE_LIMITED, limit="tokens") == 1
    assert increase(before, after, RATE_LIMITED, limit="streams") == 1
    assert increase(before, after, RATE_LIMITED, limit="auth_failures") == 0


def test_an_unreachable_redis_failing_open_lets_requests_through_and_is_counted(
    gateway_factory: GatewayFactory,
) -> None:
    live = gateway_factory(key_requests_per_minute=1, redis_url=UNREACHABLE_REDIS)
    before = scrape(live)
    with live.client(live.admin_key) as client:
        statuses = [client.get("/api/personas").status_code for _ in range(2)]
    after = scrape(live)

    assert statuses == [200, 200]
    assert increase(before, after, STORAGE_ERRORS, outcome="allowed") >= 2
    assert increase(before, after, STORAGE_ERRORS, outcome="refused") == 0


def test_an_unreachable_redis_failing_closed_refuses_with_503_and_is_counted(
    gateway_factory: GatewayFactory,
) -> None:
    live = gateway_factory(
        key_requests_per_minute=1, redis_url=UNREACHABLE_REDIS, rate_limit_fail_open=False
    )
    before = scrape(live)
    with live.client(live.admin_key) as client:
        refused = client.get("/api/personas")
    after = scrape(live)

    assert_error(refused, 503, "rate_limiter_unavailable")
    assert refused.json()["error"]["type"] == "service_unavailable_error"
    assert increase(before, after, STORAGE_ERRORS, outcome="refused") == 1
    assert increase(before, after, STORAGE_ERRORS, outcome="allowed") == 0


def test_a_key_is_charged_the_tokens_the_upstream_reported_not_its_reservation(
    simulator: ThreadedSimulator, gateway: LiveGateway
) -> None:
    """A turn reserves its prompt's estimate (which errs high: it must never under-count
    the context) and its reply's ceiling; the token window must not err: after a turn it
    holds what the upstream reported, so a budget of exactly that turn plus the next
    turn's reservation lets the next turn through, and no more."""
    turn = {"messages": [{"role": "user", "content": "Hello there"}], "max_tokens": 8}
    follow_up = {"messages": [{"role": "user", "content": "ok"}], "max_tokens": 8}
    with gateway.client(gateway.admin_key) as probe:
        reported = probe.post("/api/chat", json=turn).json()["usage"]["total_tokens"]
        reserved = estimate_prompt_tokens(simulator.recorded_requests()[-1]["messages"]) + 8
        probe.post("/api/chat", json=follow_up)
        follow_up_reserved = (
            estimate_prompt_tokens(simulator.recorded_requests()[-1]["messages"]) + 8
        )
    budget = reported + follow_up_reserved
    with gateway.client(new_key(gateway, tokens_per_minute=budget)) as client:
        first = client.post("/api/chat", json=turn)
        assert first.json()["usage"]["total_tokens"] == reported  # the same prompt again
        second = client.post("/api/chat", json=follow_up)
        assert second.status_code == 200, second.text
        assert_refused(client.post("/api/chat", json=follow_up), budget, "tokens")
    assert reserved > reported  # the reservation errs high; the window holds the report
