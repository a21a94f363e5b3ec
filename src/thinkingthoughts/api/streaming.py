"""Starting a streamed answer while the upstream may still be deciding.

The upstream request is opened before the response starts, so that a fast refusal (the
server is down, a 4xx) is still a proper HTTP status. An upstream that holds back its
headers (one loading a model on demand) gets a short grace; past it the stream starts
anyway, so that keep-alive comments flow and a client that leaves is noticed, and a
later failure arrives as the stream's error event.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

from fastapi import Request

from thinkingthoughts.api.disconnect import client_gone

UPSTREAM_GRACE_SECONDS = 1.0

T = TypeVar("T")


class ClientGoneError(Exception):
    """The client disconnected before the stream could start."""


async def settled_within_grace(request: Request, opening: asyncio.Task[T]) -> bool:
    """True when `opening` finished within the grace; False when it still runs.

    A client that leaves meanwhile cancels `opening` and raises ClientGoneError.
    """
    watcher = asyncio.ensure_future(client_gone(request))
    try:
        done, _ = await asyncio.wait(
            {opening, watcher},
            timeout=UPSTREAM_GRACE_SECONDS,
            return_when=asyncio.FIRST_COMPLETED,
        )
    except asyncio.CancelledError:
        opening.cancel()
        raise
    finally:
        watcher.cancel()
    if opening in done:
        return True
    if watcher in done:
        opening.cancel()
        await asyncio.gather(opening, return_exceptions=True)
        raise ClientGoneError
    return False


async def start_within_grace(request: Request, work: Awaitable[T]) -> asyncio.Task[T] | None:
    """Start `work` and give it the grace; None when the client left (`work` is cancelled).

    Work that finished within the grace raises its error here, so that a fast refusal is
    a proper HTTP status; otherwise the returned task is still running.
    """
    task = asyncio.ensure_future(work)
    try:
        settled = await settled_within_grace(request, task)
    except ClientGoneError:
        return None
    if settled:
        task.result()
    return task
