"""`GET /metrics`: Prometheus text format, open like /health (scrapers carry no key).

With several workers, every worker answers for all of them (multiprocess mode)."""

from __future__ import annotations

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST

from thinkingthoughts.observability.multiprocess import render_metrics

router = APIRouter(tags=["health"])


@router.get("/metrics", response_class=Response)
async def metrics() -> Response:
    return Response(render_metrics(), media_type=CONTENT_TYPE_LATEST)
