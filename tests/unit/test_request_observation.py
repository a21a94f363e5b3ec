"""An unexpected failure is still observed: the 500 that Starlette's outermost error
handler sends carries the request's id."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from thinkingthoughts.api.errors import install_error_handlers
from thinkingthoughts.api.request_observation import RequestObservationMiddleware
from thinkingthoughts.observability.request_ids import current_request_id


async def test_an_unhandled_error_still_carries_the_request_id(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = FastAPI()
    install_error_handlers(app)
    app.add_middleware(RequestObservationMiddleware)
    seen: list[str | None] = []

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("boom")

    @app.get("/fine")
    async def fine() -> dict[str, str | None]:
        seen.append(current_request_id.get())
        return {"ok": "yes"}

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
        with caplog.at_level("ERROR", logger="thinkingthoughts"):
            failed = await client.get("/boom", headers={"X-Request-ID": "r-500"})
        answered = await client.get("/fine", headers={"X-Request-ID": "r-200"})

    assert failed.status_code == 500
    assert failed.headers["x-request-id"] == "r-500"
    assert failed.json()["error"]["code"] == "internal_error"
    assert answered.headers["x-request-id"] == "r-200"
    assert seen == ["r-200"]
    assert any(r.getMessage() == "unhandled error" for r in caplog.records)


async def test_the_access_line_gives_the_path_as_received(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = FastAPI()
    app.add_middleware(RequestObservationMiddleware)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
        with caplog.at_level("INFO", logger="thinkingthoughts.access"):
            response = await client.get("/x%0Afake%20line")

    assert response.status_code == 404
    [line] = [r for r in caplog.records if r.name == "thinkingthoughts.access"]
    assert "\n" not in line.getMessage()
    assert line.__dict__["path"] == "/x%0Afake%20line"
    assert line.__dict__["route"] is None
