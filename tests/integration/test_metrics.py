"""`GET /metrics` after real traffic: it parses as Prometheus text, and each counter moved
by exactly what the traffic did. The registry lives as long as the process, so every
check compares a scrape before with a scrape after."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.conftest import GatewayFactory, SimulatorFactory
from tests.integration.live_servers import LiveGateway

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(client: httpx.Client) -> Samples:
    response = client.get("/metrics")
    assert response.status_code == 200
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def moved(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


def stream_events(client: httpx.Client, body: dict[str, Any]) -> Iterator[str]:
    with client.stream("POST", "/api/chat", json={**body, "stream": True}) as response:
        assert response.status_code == 200
        yield from response.iter_lines()


def test_requests_tokens_streams_and_database_time_are_counted(
    gateway: LiveGateway, admin: httpx.Client
) -> None:
    before = scrape(admin)
    whole = [admin.post("/api/chat", json={"message": f"hi {n}"}) for n in range(3)]
    assert all(r.status_code == 200 for r in whole)
    events = list(stream_events(admin, {"message": "stream please"}))
    assert any(line.startswith("event: done") for line in events)
    assert admin.get("/api/sessions/not-a-session").status_code == 404
    after = scrape(admin)

    chat = {"route": "/api/chat", "method": "POST"}
    assert moved(before, after, "tt_http_requests_total", **chat, status="200") == 4
    assert moved(before, after, "tt_http_request_duration_seconds_count", **chat) == 4
    read = {"route": "/api/sessions/{session_id}", "method": "GET", "status": "404"}
    assert moved(before, after, "tt_http_requests_total", **read) == 1

    prompt = sum(r.json()["usage"]["prompt_tokens"] for r in whole)
    completion = sum(r.json()["usage"]["completion_tokens"] for r in whole)
    model = whole[0].json()["model"]
    persona = {"persona": "seline", "model": model}
    tokens_in = moved(before, after, "tt_tokens_total", kind="prompt", **persona)
    tokens_out = moved(before, after, "tt_tokens_total", kind="completion", **persona)
    assert tokens_in > prompt  # the three whole replies, and the stream
    assert tokens_out > completion

    assert moved(before, after, "tt_time_to_first_token_seconds_count") == 1
    assert moved(before, after, "tt_inter_token_latency_seconds_count") >= 1
    assert value(after, "tt_active_streams") == value(before, "tt_active_streams")
    # Each turn writes twice: the user's message, then the reply.
    assert moved(before, after, "tt_database_transaction_seconds_count") >= 8


def test_upstream_failures_are_counted_by_kind(
    simulator_factory: SimulatorFactory, gateway_factory: GatewayFactory
) -> None:
    failing = simulator_factory(fail_500_rate=1.0)
    gateway = gateway_factory(upstream=failing)
    with gateway.client(gateway.admin_key) as admin:
        before = scrape(admin)
        native = admin.post("/api/chat", json={"message": "hello"})
        openai = admin.post(
            "/v1/chat/completions",
            json={"model": "persona:seline", "messages": [{"role": "user", "content": "hi"}]},
        )
        after = scrape(admin)

    assert native.status_code == 502
    assert openai.status_code == 502
    code = native.json()["error"]["code"]
    assert moved(before, after, "tt_upstream_errors_total", kind=code) == 2
    chat = {"route": "/api/chat", "method": "POST", "status": "502"}
    assert moved(before, after, "tt_http_requests_total", **chat) == 1


def test_an_unknown_path_is_one_bounded_label(admin: httpx.Client) -> None:
    before = scrape(admin)
    for n in range(3):
        assert admin.get(f"/no/such/path/{n}").status_code == 404
    after = scrape(admin)

    unmatched = {"route": "unmatched", "method": "GET", "status": "404"}
    assert moved(before, after, "tt_http_requests_total", **unmatched) == 3
    assert not any("/no/such/path" in str(labels) for _, labels in after)
