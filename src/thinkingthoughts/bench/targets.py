"""The targets of one scenario, started together: the simulator, the gateway in front of it
and, for comparison, the bare passthrough and LiteLLM (when installed) in front of the same
simulator. Also the request bodies each target is sent, so that all of them carry the
same prompt: the persona's compiled system prompt and one short user message."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import orjson

from thinkingthoughts.bench.loadgen import Call, CallFor
from thinkingthoughts.bench.processes import (
    ServerProcess,
    create_admin_key,
    litellm_command,
    start_gateway,
    start_litellm,
    start_passthrough,
    start_simulator,
)

SIMULATOR_MODEL = "thinkingthoughts-sim"
PERSONA = "seline"
REPLY_TOKENS = 32
JSON = {"content-type": "application/json"}


@dataclass
class Stack:
    simulator: ServerProcess
    gateway: ServerProcess
    admin_key: str
    system_prompt: str
    passthrough: ServerProcess | None = None
    litellm: ServerProcess | None = None

    @property
    def gateway_headers(self) -> dict[str, str]:
        return {**JSON, "x-api-key": self.admin_key}

    def comparisons(self) -> list[tuple[str, ServerProcess]]:
        """(label, server) of the targets that speak the upstream's own API."""
        found = [("direct", self.simulator)]
        if self.passthrough is not None:
            found.append(("passthrough", self.passthrough))
        if self.litellm is not None:
            found.append(("litellm", self.litellm))
        return found

    def upstream_call(self, server: ServerProcess, *, stream: bool) -> CallFor:
        """The OpenAI-shaped request, as the gateway would send it upstream."""
        base = f"{server.root_url}/v1/chat/completions"
        headers = {**JSON, **server.headers}

        def call(_worker: int, number: int) -> Call:
            body = {
                "model": SIMULATOR_MODEL,
                "messages": [
                    {"role": "system", "content": self.system_prompt},
                    {"role": "user", "content": user_message(number)},
                ],
                "max_tokens": REPLY_TOKENS,
                "stream": stream,
            }
            return Call(base, orjson.dumps(body), headers, stream=stream)

        return call


def user_message(number: int) -> str:
    return f"Request {number}: any idea for a rainy Sunday?"


@contextmanager
def started_stack(
    workdir: Path,
    *,
    compare: bool,
    litellm: str | None = None,
    itl: float = 0.0,
    workers: int = 1,
    database_url: str | None = None,
) -> Iterator[Stack]:
    """Start everything a scenario measures; stop all of it on the way out."""
    with ExitStack() as stop:
        simulator = stop.enter_context(start_simulator(reply_tokens=REPLY_TOKENS, itl=itl))
        upstream_url = simulator.root_url + "/v1"
        gateway = stop.enter_context(
            start_gateway(
                workdir / "gateway",
                upstream_url=upstream_url,
                workers=workers,
                database_url=database_url,
            )
        )
        key = create_admin_key(
            workdir / "gateway", upstream_url=upstream_url, database_url=database_url
        )
        stack = Stack(
            simulator=simulator,
            gateway=gateway,
            admin_key=key,
            system_prompt=asyncio.run(_system_prompt(gateway, key)),
        )
        if compare:
            stack.passthrough = stop.enter_context(start_passthrough(upstream_url=upstream_url))
            command = litellm or litellm_command()
            if command is not None:
                stack.litellm = stop.enter_context(
                    start_litellm(
                        command, workdir / "litellm", upstream_url=upstream_url,
                        model=SIMULATOR_MODEL,
                    )
                )  # fmt: skip
        yield stack


async def _system_prompt(gateway: ServerProcess, key: str) -> str:
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{gateway.root_url}/api/personas/{PERSONA}/preview",
            json={"traits": {}},
            headers={"x-api-key": key},
        ) as answer,
    ):
        answer.raise_for_status()
        return str((await answer.json())["system_prompt"])


async def open_sessions(stack: Stack, count: int) -> list[str]:
    """One stored session per worker, each opened by a first turn (not timed)."""
    async with aiohttp.ClientSession() as session:

        async def open_one(number: int) -> str:
            async with session.post(
                f"{stack.gateway.root_url}/api/chat",
                data=orjson.dumps({"message": user_message(number), "persona": PERSONA}),
                headers=stack.gateway_headers,
            ) as answer:
                answer.raise_for_status()
                return str((await answer.json())["session_id"])

        return list(await asyncio.gather(*(open_one(n) for n in range(count))))


def native_chat_call(stack: Stack, sessions: list[str], *, stream: bool) -> CallFor:
    """`POST /api/chat`: worker i continues its own session, one turn per request."""
    url = f"{stack.gateway.root_url}/api/chat"
    headers = stack.gateway_headers

    def call(worker: int, number: int) -> Call:
        body = {"session_id": sessions[worker], "message": user_message(number), "stream": stream}
        return Call(url, orjson.dumps(body), headers, stream=stream)

    return call


def openai_persona_call(stack: Stack) -> CallFor:
    """`POST /v1/chat/completions` on the gateway with the persona as the model, streamed."""
    url = f"{stack.gateway.root_url}/v1/chat/completions"
    headers = stack.gateway_headers

    def call(_worker: int, number: int) -> Call:
        body = {
            "model": f"persona:{PERSONA}",
            "messages": [{"role": "user", "content": user_message(number)}],
            "max_tokens": REPLY_TOKENS,
            "stream": True,
        }
        return Call(url, orjson.dumps(body), headers, stream=True)

    return call
