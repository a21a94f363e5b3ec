"""The history a stored conversation sends once it outgrows the model's context: evicted in
chunks, so each turn's upstream prompt begins with the previous turn's whole prompt except
when the conversation crosses into a new chunk; and the same whichever replica sends it."""

from __future__ import annotations

from itertools import pairwise
from typing import Any

from tests.integration.conftest import GatewayFactory, SimulatorFactory
from thinkingthoughts.context.tokens import estimate_prompt_tokens

CONTEXT = 1500
REPLY_TOKENS = 8
TURNS = 40


def extends(previous: list[dict[str, Any]], current: list[dict[str, Any]]) -> bool:
    return current[: len(previous)] == previous


def test_history_is_evicted_in_chunks_so_prompts_extend_each_other(
    simulator_factory: SimulatorFactory, gateway_factory: GatewayFactory
) -> None:
    small = simulator_factory(max_model_len=CONTEXT, reply_tokens=REPLY_TOKENS)
    live = gateway_factory(upstream=small, max_tokens=REPLY_TOKENS)
    prompts: list[list[dict[str, Any]]] = []
    with live.client(live.admin_key) as client:
        session_id = None
        for turn in range(TURNS):
            body: dict[str, Any] = {"message": f"Turn {turn}: " + "tell me more " * 8}
            if session_id:
                body["session_id"] = session_id
            answer = client.post("/api/chat", json=body)
            assert answer.status_code == 200, answer.text
            session_id = answer.json()["session_id"]
            prompts.append(small.recorded_requests()[-1]["messages"])

    stored_before = [1 + 2 * turn + 1 for turn in range(TURNS)]
    cut = [len(p) - 1 < n for p, n in zip(prompts, stored_before, strict=True)]
    breaks = sum(1 for before, after in pairwise(prompts) if not extends(before, after))
    assert sum(cut) >= TURNS // 2  # the context was outgrown early on
    assert 1 <= breaks <= 6  # once per chunk, not once per turn
    for prompt in prompts:
        assert prompt[0]["role"] == "system"
        assert prompt[-1]["content"].startswith("Turn ")
        assert estimate_prompt_tokens(prompt) <= CONTEXT - REPLY_TOKENS


def test_a_second_replica_sends_the_same_window(
    simulator_factory: SimulatorFactory, gateway_factory: GatewayFactory
) -> None:
    small = simulator_factory(max_model_len=CONTEXT, reply_tokens=REPLY_TOKENS)
    first = gateway_factory(upstream=small, max_tokens=REPLY_TOKENS)
    with first.client(first.admin_key) as client:
        session_id = client.post("/api/chat", json={"message": "hello " * 20}).json()["session_id"]
        for turn in range(14):
            message = f"Turn {turn}: " + "tell me more " * 8
            client.post("/api/chat", json={"message": message, "session_id": session_id})
    second = gateway_factory(upstream=small, max_tokens=REPLY_TOKENS)
    for live in (first, second):
        with live.client(live.admin_key) as client:
            answer = client.post("/api/chat", json={"session_id": session_id, "regenerate": True})
            assert answer.status_code == 200, answer.text
    by_first, by_second = (r["messages"] for r in small.recorded_requests()[-2:])
    assert by_first == by_second
    assert by_first[-1]["content"].startswith("Turn 13: ")
    assert len(by_first) - 1 < 1 + 2 * 15  # the window left part of the history out
