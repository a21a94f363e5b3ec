"""Starting a streamed answer while the upstream may still be deciding.

The upstream request is opened before the response starts, so that a fast refusal (the
server is down, a 4xx) is still a proper HTTP status. An upstream that holds back its
headers (one loading a model on demand) gets a short grace; past it the stream starts
anyway, so that keep-alive comments flow and a client that leaves is noticed, and a
later failure arrives as the stream's error event.
"""

from __future__ import annotations

import asyncio
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
