"""Liveness and readiness: open to everyone, no key needed."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable

from fastapi import APIRouter
from pydantic import BaseModel

from thinkingthoughts.api.deps import Resources
from thinkingthoughts.api.responses import FastJSONResponse
from thinkingthoughts.errors import GatewayError

router = APIRouter(tags=["health"])

READY_CHECK_TIMEOUT = 3.0


class Liveness(BaseModel):
    status: str


@router.get("/health")
async def health() -> Liveness:
    return Liveness(status="ok")


@router.get("/health/ready", response_model=None)
async def ready(resources: Resources) -> FastJSONResponse:
    probes: dict[str, Awaitable[object]] = {
        "database": resources.database.ping(),
        "upstream": resources.upstream.list_models(),
    }
    if resources.redis is not None:
        probes["redis"] = resources.redis.ping()
    # Side by side: a dependency that hangs costs READY_CHECK_TIMEOUT once, not per probe.
    results = await asyncio.gather(*(_check(probe) for probe in probes.values()))
    checks = dict(zip(probes, results, strict=True))
    all_ok = all(value == "ok" for value in checks.values())
    return FastJSONResponse(
        {"status": "ok" if all_ok else "unavailable", "checks": checks},
        status_code=200 if all_ok else 503,
    )


async def _check(probe: Awaitable[object]) -> str:
    try:
        async with asyncio.timeout(READY_CHECK_TIMEOUT):
            await probe
    except (GatewayError, OSError, TimeoutError) as exc:
        return f"error: {exc}"
    except Exception as exc:
        return f"error: {type(exc).__name__}"
    return "ok"
