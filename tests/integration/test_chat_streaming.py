"""Streaming chat over Server-Sent Events, and what is stored when a client leaves early."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx

from tests.integration.conftest import GatewayFactory, SimulatorFactory
from tests.integration.live_servers import HeaderWithholdingUpstream

WAIT_SECONDS = 10.0


def sse_events(response: httpx.Response) -> Iterator[tuple[str, dict[str, Any]]]:
    """(event name, JSON data) pairs of a text/event-stream response; comments skipped."""
    event, data = "message", ""
    for line in response.iter_lines():
        if not line:
            if data:
                yield event, json.loads(data)
            event, data = "message", ""
        elif line.startswith(":"):
            continue
        elif line.startswith("event:"):
            event = line.partition(":")[2].strip()
        elif line.startswith("data:"):
            data += line.partition(":")[2].strip()


def wait_until(condition: Any, timeout: float = WAIT_SECONDS) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)


def test_stream_sends_start_deltas_done_and_stores_the_same_text(admin: httpx.Client) -> None:
    with admin.stream("POST", "/api/chat", json={"message": "stream please", "stream": True}) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        events = list(sse_events(r))

    names = [name for name, _ in events]
    assert names[0] == "start"
    assert names[-1] == "done"
    assert set(names[1:-1]) == {"delta"}
    start, done = events[0][1], events[-1][1]
    text = "".join(data["content"] for name, data in events if name == "delta")
    assert text.startswith('[Seline] You said: "stream please"')
    assert done["message_id"] == start["message_id"]
    assert done["usage"]["completion_tokens"] == len(names) - 2
    assert done["finish_reason"] in ("stop", "length")
    stored = admin.get(f"/api/sessions/{start['session_id']}").json()["messages"][-1]
    assert (stored["id"], stored["content"], stored["status"]) == (
        start["message_id"],
        text,
        "complete",
    )


def test_keepalive_comments_are_sent_while_the_first_token_is_awaited(
    simulator_factory: SimulatorFactory, gateway_factory: GatewayFactory
) -> None:
    slow = simulator_factory(time_to_first_token=1.5)
    live = gateway_factory(upstream=slow, sse_keepalive_seconds=0.3)
    with (
        live.client(live.admin_key) as client,
        client.stream("POST", "/api/chat", json={"message": "hi", "stream": True}) as r,
    ):
        lines = list(r.iter_lines())
    first_delta = next(i for i, line in enumerate(lines) if line == "event: delta")
    assert any(line.startswith(":") for line in lines[:first_delta])


def test_a_client_leaving_mid_stream_closes_upstream_and_keeps_what_was_relayed(
    simulator_factory: SimulatorFactory, gateway_factory: GatewayFactory
) -> None:
    slow = simulator_factory(inter_token_latency=0.05, reply_tokens=400)
    live = gateway_factory(upstream=slow)
    received = ""
    with live.client(live.admin_key) as client:
        with client.stream("POST", "/api/chat", json={"message": "go", "stream": True}) as r:
            events = sse_events(r)
            _, start = next(events)
            for name, data in events:
                if name == "delta":
                    received += data["content"]
                if len(received) > 60:
                    break
        wait_until(lambda: slow.stats()["cancelled_streams"] >= 1)

        def interrupted() -> dict[str, Any] | None:
            session = client.get(f"/api/sessions/{start['session_id']}").json()
            last = session["messages"][-1]
            return last if last["role"] == "assistant" and last["seq"] == 3 else None

        wait_until(lambda: interrupted() is not None)
        stored = interrupted()

    assert stored is not None
    assert stored["status"] == "interrupted"
    assert stored["content"].startswith(received)
    assert len(stored["content"]) < 400 * 3  # far from the whole reply
    assert slow.stats()["active_streams"] == 0


def test_a_stream_that_breaks_midway_ends_with_an_error_event_and_is_recorded(
    simulator_factory: SimulatorFactory, gateway_factory: GatewayFactory
) -> None:
    dropping = simulator_factory(drop_rate=1.0, reply_tokens=64)
    live = gateway_factory(upstream=dropping)
    with (
        live.client(live.admin_key) as client,
        client.stream("POST", "/api/chat", json={"message": "hi", "stream": True}) as r,
    ):
        events = list(sse_events(r))
        session_id = events[0][1]["session_id"]
        last = client.get(f"/api/sessions/{session_id}").json()["messages"][-1]

    assert events[0][0] == "start"
    assert events[-1][0] == "error"
    assert events[-1][1]["error"]["type"] == "upstream_error"
    assert last["status"] == "error"


def test_an_upstream_that_is_down_answers_503_before_the_stream_starts(
    simulator_factory: SimulatorFactory, gateway_factory: GatewayFactory
) -> None:
    doomed = simulator_factory()
    live = gateway_factory(upstream=doomed, llm_model="thinkingthoughts-sim")
    doomed.stop()
    with live.client(live.admin_key) as client:
        response = client.post("/api/chat", json={"message": "anyone?", "stream": True})
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "upstream_unavailable"


def test_stateless_streaming_works_without_a_session(admin: httpx.Client) -> None:
    body = {"messages": [{"role": "user", "content": "quick"}], "stream": True}
    with admin.stream("POST", "/api/chat", json=body) as r:
        events = list(sse_events(r))
    assert events[0][1]["session_id"] is None
    assert events[-1][0] == "done"


def test_a_native_stream_keeps_alive_and_notices_a_client_leaving_before_the_upstream_answers(
    gateway_factory: GatewayFactory,
) -> None:
    upstream = HeaderWithholdingUpstream(header_delay=4.0)
    upstream.start()
    try:
        live = gateway_factory(
            upstream=upstream, llm_model=upstream.model, llm_max_model_len=4096,
            sse_keepalive_seconds=0.3,
        )  # fmt: skip
        with live.client(live.admin_key, timeout=httpx.Timeout(30, read=2.0)) as client:
            with client.stream(
                "POST", "/api/chat", json={"message": "hi", "stream": True}
            ) as response:
                assert response.status_code == 200
                first_line = next(response.iter_lines())
            assert first_line.startswith(":")  # a keep-alive comment, before any token
        wait_until(lambda: upstream.left_before_headers >= 1, timeout=3.0)
    finally:
        upstream.stop()
