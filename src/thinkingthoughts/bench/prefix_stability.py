"""How often a turn's upstream prompt extends the previous turn's: the share of turns an
inference server's prefix cache can reuse whole, in one long session on a model whose
small context the history outgrows several times over.

The simulator records every request it is sent; after each turn the bench reads the one
just sent, so the figure is measured on the prompts the upstream really received.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from thinkingthoughts.bench.processes import (
    ServerProcess,
    create_admin_key,
    start_gateway,
    start_simulator,
)
from thinkingthoughts.bench.report import Check, ScenarioReport

PERSONA = "seline"
REPLY_TOKENS = 32
TARGET_SHARE = 0.9
JSON = {"content-type": "application/json"}

Prompt = Sequence[Mapping[str, Any]]


@dataclass(frozen=True, slots=True)
class PrefixRun:
    prompts: list[list[dict[str, Any]]]
    """Every turn's upstream messages, in turn order."""
    stored_messages: list[int]
    """How many messages the session held when each prompt was sent."""


def extends(previous: Prompt, current: Prompt) -> bool:
    """Whether `current` begins with the whole of `previous`, message for message."""
    return len(current) >= len(previous) and list(current[: len(previous)]) == list(previous)


def extended_share(prompts: Sequence[Prompt]) -> float | None:
    """The share of turns after the first whose prompt extends the previous one's."""
    pairs = list(pairwise(prompts))
    if not pairs:
        return None
    return sum(1 for before, after in pairs if extends(before, after)) / len(pairs)


def cut_turns(run: PrefixRun) -> int:
    """Turns whose prompt left part of the stored conversation out (the system prompt is
    the one message of the prompt that is not stored)."""
    return sum(
        1
        for prompt, stored in zip(run.prompts, run.stored_messages, strict=True)
        if len(prompt) - 1 < stored
    )


def measure_prefix_stability(
    workdir: Path, *, turns: int, max_model_len: int
) -> tuple[PrefixRun, float | None]:
    """Run `turns` turns of one session through a gateway in front of a simulator with a
    context of `max_model_len` tokens; the prompts it sent, and the gateway's CPU
    seconds per turn."""
    with ExitStack() as stop:
        simulator = stop.enter_context(
            start_simulator(reply_tokens=REPLY_TOKENS, max_model_len=max_model_len)
        )
        upstream_url = simulator.root_url + "/v1"
        gateway = stop.enter_context(start_gateway(workdir, upstream_url=upstream_url))
        key = create_admin_key(workdir, upstream_url=upstream_url, database_url=None)
        cpu_before = gateway.cpu_seconds()
        run = asyncio.run(_one_session(gateway, simulator, key, turns))
        cpu_after = gateway.cpu_seconds()
    cpu = cpu_after - cpu_before if cpu_before is not None and cpu_after is not None else None
    return run, (cpu / turns if cpu is not None else None)


async def _one_session(
    gateway: ServerProcess, simulator: ServerProcess, key: str, turns: int
) -> PrefixRun:
    headers = {**JSON, "x-api-key": key}
    prompts: list[list[dict[str, Any]]] = []
    stored: list[int] = []
    session_id: str | None = None
    async with aiohttp.ClientSession() as client:
        for number in range(turns):
            body: dict[str, Any] = {
                "message": f"Turn {number}: what shall we talk about next?",
                "max_tokens": REPLY_TOKENS,
                **({"session_id": session_id} if session_id else {"persona": PERSONA}),
            }
            async with client.post(
                f"{gateway.root_url}/api/chat", data=orjson.dumps(body), headers=headers
            ) as answer:
                answer.raise_for_status()
                session_id = str((await answer.json())["session_id"])
            async with client.get(f"{simulator.root_url}/_sim/requests") as recorded:
                recorded.raise_for_status()
                prompts.append((await recorded.json())[-1]["messages"])
            # A greeting, then a message and its reply each turn before this one's reply.
            stored.append(1 + 2 * number + 1)
    return PrefixRun(prompts=prompts, stored_messages=stored)


def prefix_stability_report(
    report: ScenarioReport, run: PrefixRun, cpu_per_turn: float | None
) -> None:
    """Fill `report` with the figure, the target checked and what the run went through."""
    share = extended_share(run.prompts)
    breaks = [
        turn
        for turn in range(1, len(run.prompts))
        if not extends(run.prompts[turn - 1], run.prompts[turn])
    ]
    report.checks.append(
        Check(
            f"prompt extends the previous turn's on ≥ {TARGET_SHARE:.0%} of turns",
            f"{share:.1%}" if share is not None else "-",
            None if share is None else share >= TARGET_SHARE,
        )
    )
    report.series["turns whose prompt does not extend the previous one"] = breaks
    report.notes.append(
        f"{len(run.prompts)} turns; {cut_turns(run)} sent only part of the stored history; "
        f"{len(breaks)} broke the previous prompt"
    )
    if cpu_per_turn is not None:
        report.notes.append(f"gateway CPU per stored turn: {cpu_per_turn * 1000:.2f} ms")
