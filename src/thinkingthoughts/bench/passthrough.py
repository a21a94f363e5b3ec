"""The bare passthrough: a FastAPI app that relays `/v1/chat/completions` to the upstream on
one pooled aiohttp session, with nothing else (no auth, no storage, no prompts). It is
the benchmarks' measure of what any Python gateway on this stack can reach.

`python -m thinkingthoughts.bench.passthrough --port P --upstream URL`
"""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
import uvicorn
from fastapi import FastAPI, Request, Response
from fastapi.responses import StreamingResponse


def create_passthrough(upstream_url: str) -> FastAPI:
    session: aiohttp.ClientSession | None = None

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        nonlocal session
        session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        yield
        await session.close()

    app = FastAPI(lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/v1/chat/completions", response_model=None)
    async def relay(request: Request) -> Response:
        assert session is not None
        body = await request.body()
        upstream = await session.post(
            f"{upstream_url}/chat/completions",
            data=body,
            headers={"content-type": "application/json"},
        )
        if b'"stream":true' not in body.replace(b" ", b""):
            content = await upstream.read()
            upstream.release()
            return Response(content, status_code=upstream.status, media_type="application/json")

        async def chunks() -> AsyncIterator[bytes]:
            try:
                async for chunk in upstream.content.iter_any():
                    yield chunk
            finally:
                upstream.release()

        return StreamingResponse(chunks(), media_type="text/event-stream")

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", required=True, help="the upstream's /v1 URL")
    arguments = parser.parse_args()
    uvicorn.run(
        create_passthrough(arguments.upstream.rstrip("/")),
        host="127.0.0.1",
        port=arguments.port,
        log_level="warning",
        access_log=False,
    )


if __name__ == "__main__":
    main()
