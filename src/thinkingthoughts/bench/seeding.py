"""Long stored conversations for the `long-session` scenario, made the way users make them:
turn after turn through the gateway's own API (each turn stores a message and a reply),
the sessions filled side by side."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import aiohttp
import orjson

from thinkingthoughts.bench.targets import Stack, open_sessions, user_message

OPENING_MESSAGES = 3
"""A session's first turn stores the persona's greeting, the message and the reply."""


async def seed_long_sessions(stack: Stack, *, sizes: Sequence[int]) -> list[str]:
    """One session per size, holding at least that many stored messages."""
    session_ids = await open_sessions(stack, len(sizes))
    async with aiohttp.ClientSession() as client:

        async def fill(session_id: str, size: int) -> None:
            for number in range(0, max(0, size - OPENING_MESSAGES), 2):
                body = {"session_id": session_id, "message": user_message(number)}
                async with client.post(
                    f"{stack.gateway.root_url}/api/chat",
                    data=orjson.dumps(body),
                    headers=stack.gateway_headers,
                ) as answer:
                    answer.raise_for_status()
                    await answer.read()

        await asyncio.gather(*(fill(s, n) for s, n in zip(session_ids, sizes, strict=True)))
    return session_ids
