"""Noticing a client that went away while its answer was being prepared."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

from fastapi import Request

CLIENT_CLOSED_REQUEST = 499
"""Logged for a request whose client left before the answer (nginx's convention)."""

T = TypeVar("T")


async def unless_client_leaves(request: Request, work: Coroutine[Any, Any, T]) -> T | None:
    """Run `work` until done, or cancel it when the client disconnects (None then).

    Uvicorn does not cancel a handler whose client has gone; without this, the
    upstream would generate a whole reply for nobody.
    """
    task = asyncio.ensure_future(work)
    watcher = asyncio.ensure_future(client_gone(request))
    try:
        await asyncio.wait({task, watcher}, return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:
        task.cancel()
        raise
    finally:
        watcher.cancel()
    if not task.done():
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return None
    return task.result()


async def client_gone(request: Request) -> None:
    while (await request.receive())["type"] != "http.disconnect":
        pass
