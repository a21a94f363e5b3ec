"""Real servers on real ports for integration tests: the simulator and the gateway.

Each runs in a background thread with its own event loop, so tests talk to them over
real HTTP exactly as clients do, and coverage still sees the server code.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import orjson
import uvicorn
from aiohttp import web

from thinkingthoughts.access.api_keys import Scope
from thinkingthoughts.access.key_management import create_key
from thinkingthoughts.app import create_app
from thinkingthoughts.observability.tracing import Tracing
from thinkingthoughts.settings import Settings
from thinkingthoughts.simulator.config import SimulatorConfig
from thinkingthoughts.simulator.server import create_simulator_app
from thinkingthoughts.storage.database import Database

START_TIMEOUT = 20.0

T = TypeVar("T")


class ThreadedAiohttpServer:
    """Any aiohttp application, served on a free loopback port from a background thread."""

    def __init__(self, app: web.Application) -> None:
        self._app = app
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner = web.AppRunner(self._app, access_log=None)
        self.port = 0

    def start(self) -> None:
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(self._start(), self._loop)
        self.port = future.result(timeout=START_TIMEOUT)

    async def _start(self) -> int:
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        sockets = getattr(server, "sockets", None)
        assert sockets
        return int(sockets[0].getsockname()[1])

    def stop(self) -> None:
        if self._loop.is_closed():
            return
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(
            timeout=START_TIMEOUT
        )
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=START_TIMEOUT)
        self._loop.close()

    @property
    def root_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return self.root_url + "/v1"


class HeaderWithholdingUpstream(ThreadedAiohttpServer):
    """An OpenAI-compatible server that sends its response headers only with the first
    token, as servers that load the model on demand do; it notes a client that left first."""

    def __init__(self, header_delay: float, model: str = "slow-headers-model") -> None:
        app = web.Application()
        app.router.add_get("/v1/models", self._models)
        app.router.add_post("/v1/chat/completions", self._chat)
        super().__init__(app)
        self._header_delay = header_delay
        self.model = model
        self.left_before_headers = 0

    async def _models(self, _: web.Request) -> web.Response:
        body = {"object": "list", "data": [{"id": self.model, "object": "model", "created": 0,
                                           "owned_by": "x", "max_model_len": 4096}]}  # fmt: skip
        return web.Response(body=orjson.dumps(body), content_type="application/json")

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        deadline = asyncio.get_running_loop().time() + self._header_delay
        while asyncio.get_running_loop().time() < deadline:
            if request.transport is None or request.transport.is_closing():
                self.left_before_headers += 1
                return web.Response(status=499)
            await asyncio.sleep(0.02)
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        head = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 0,
                "model": self.model}  # fmt: skip
        for delta, finish in (({"role": "assistant", "content": "hi"}, None), ({}, "stop")):
            chunk = {**head, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
            await response.write(b"data: " + orjson.dumps(chunk) + b"\n\n")
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response

    @property
    def base_url(self) -> str:
        return self.root_url + "/v1"


class ThreadedSimulator(ThreadedAiohttpServer):
    def __init__(self, config: SimulatorConfig) -> None:
        super().__init__(create_simulator_app(config))
        self.config = config

    def recorded_requests(self) -> list[dict[str, Any]]:
        response = httpx.get(self.root_url + "/_sim/requests")
        response.raise_for_status()
        data = response.json()
        return list(data["requests"] if isinstance(data, dict) else data)

    def recorded_headers(self) -> list[dict[str, str]]:
        return list(httpx.get(self.root_url + "/_sim/request-headers").json())

    def recorded_request_ids(self) -> list[str | None]:
        return [headers.get("x-request-id") for headers in self.recorded_headers()]

    def recorded_traceparents(self) -> list[str | None]:
        return [headers.get("traceparent") for headers in self.recorded_headers()]

    def stats(self) -> dict[str, int]:
        return dict(httpx.get(self.root_url + "/_sim/stats").json())


class ThreadedGateway:
    def __init__(
        self,
        settings: Settings,
        *,
        announce: Callable[[str], None],
        tracing: Tracing | None = None,
    ) -> None:
        self.settings = settings
        config = uvicorn.Config(
            create_app(settings, announce=announce, tracing=tracing),
            host="127.0.0.1",
            port=0,
            log_level="warning",
            access_log=False,
            lifespan="on",
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self.port = 0

    def start(self) -> None:
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the gateway did not start")
            time.sleep(0.01)
        servers = self._server.servers
        self.port = int(servers[0].sockets[0].getsockname()[1])

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=START_TIMEOUT)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self, key: str) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, headers={"x-api-key": key}, timeout=30)


@dataclass
class LiveGateway:
    """A running gateway and an HTTP client that carries the admin key."""

    server: ThreadedGateway
    admin_key: str
    announcements: list[str] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        return self.server.base_url

    def client(self, key: str | None = None, **options: Any) -> httpx.Client:
        headers = {"x-api-key": key} if key else {}
        return httpx.Client(base_url=self.base_url, headers=headers, **{"timeout": 30, **options})

    @property
    def data_dir(self) -> Path:
        return self.server.settings.data_dir


def create_key_for(gateway: LiveGateway, *scopes: Scope) -> str:
    """A new key in the gateway's database, made as the CLI makes it."""

    return on_database(
        gateway.server.settings.resolved_database_url,
        lambda database: create_key(database, name="test", scopes=list(scopes)),
    )


def on_database(url: str, work: Callable[[Database], Awaitable[T]]) -> T:
    """Run `work` on the database at `url` (as another process would), then close it."""

    async def run() -> T:
        database = Database(url)
        try:
            return await work(database)
        finally:
            await database.dispose()

    return asyncio.run(run())
