"""The simulator's HTTP server: vLLM's OpenAI-compatible routes on aiohttp, plus test seams.

Routes:
    POST   /v1/chat/completions   whole or streamed (SSE) chat completions, text or tool calls
    POST   /v1/completions        whole or streamed text completions of a prompt
    POST   /v1/embeddings         a deterministic unit vector per input (float or base64)
    GET    /v1/models             the one served model, with its max_model_len
    GET    /health                200, empty body
    POST   /tokenize              token count of a prompt or of chat messages
    GET    /_sim/requests         recent chat request bodies, newest last
    GET    /_sim/request-headers  their X-Request-ID and traceparent headers
    DELETE /_sim/requests         forget them
    GET    /_sim/stats            request and stream counters
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import orjson
from aiohttp import web

from thinkingthoughts.simulator.config import SimulatorConfig
from thinkingthoughts.simulator.embeddings import embeddings_body
from thinkingthoughts.simulator.encoding import (
    StreamFrames,
    completion_body,
    models_body,
    stream_frames,
)
from thinkingthoughts.simulator.protocol import (
    INTERNAL_ERROR,
    RATE_LIMITED,
    CompletionPlan,
    ErrorAnswer,
    parse_json_object,
    plan_chat_completion,
    tokenize_body,
)
from thinkingthoughts.simulator.state import InjectedFailure, SimulatorState
from thinkingthoughts.simulator.text_completions import (
    plan_text_completion,
    text_completion_body,
    text_completion_frames,
)

P = TypeVar("P")
"""A planned reply (chat or text completion)."""

STATE = web.AppKey("simulator_state", SimulatorState)
RETRY_AFTER_SECONDS = 1
# Long conversations must reach the context check rather than aiohttp's 1 MiB default.
MAX_REQUEST_BYTES = 64 * 1024 * 1024
_JSON = "application/json"
_SSE_HEADERS = {"Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-cache"}


def create_simulator_app(config: SimulatorConfig) -> web.Application:
    """A fresh simulator app with its own counters, recorded requests and failure dice."""
    app = web.Application(client_max_size=MAX_REQUEST_BYTES)
    app[STATE] = SimulatorState.for_config(config, created=int(time.time()))
    app.router.add_post("/v1/chat/completions", _chat_completions)
    app.router.add_post("/v1/completions", _text_completions)
    app.router.add_post("/v1/embeddings", _embeddings)
    app.router.add_get("/v1/models", _models)
    app.router.add_get("/health", _health)
    app.router.add_post("/tokenize", _tokenize)
    app.router.add_get("/_sim/requests", _recorded_requests)
    app.router.add_get("/_sim/request-headers", _recorded_headers)
    app.router.add_delete("/_sim/requests", _clear_recorded_requests)
    app.router.add_get("/_sim/stats", _stats)
    return app


def run_simulator(config: SimulatorConfig, *, host: str, port: int) -> None:
    """Serve the simulator until interrupted; prints one line once it listens."""

    def announce(*_: object) -> None:
        print(
            f"ThinkingThoughts inference simulator serving model '{config.model}' "
            f"on http://{host}:{port}/v1",
            flush=True,
        )

    web.run_app(create_simulator_app(config), host=host, port=port, access_log=None, print=announce)


async def _recorded_body(request: web.Request) -> dict[str, Any] | web.Response:
    """Count and record a request; its JSON body, or the error answer it gets."""
    state = request.app[STATE]
    state.stats.requests += 1
    body = parse_json_object(await request.read())
    if isinstance(body, ErrorAnswer):
        return _error_response(body)
    state.record(body, headers={k.lower(): v for k, v in request.headers.items()})
    return body


def _injected_failure(state: SimulatorState) -> web.Response | bool:
    """The answer an injected failure sends instead; else whether to drop the reply."""
    failure = state.next_failure()
    if failure is InjectedFailure.RATE_LIMITED:
        return _error_response(RATE_LIMITED, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
    if failure is InjectedFailure.SERVER_ERROR:
        return _error_response(INTERNAL_ERROR)
    return failure is InjectedFailure.DROPPED


async def _accepted(
    request: web.Request, plan_for: Callable[[dict[str, Any], SimulatorConfig], P | ErrorAnswer]
) -> tuple[P, bool] | web.Response:
    """A completion request recorded and planned, and whether to drop its reply; or the
    answer that replaces it (an invalid request, an injected failure)."""
    body = await _recorded_body(request)
    if isinstance(body, web.Response):
        return body
    plan = plan_for(body, request.app[STATE].config)
    if isinstance(plan, ErrorAnswer):
        return _error_response(plan)
    dropped = _injected_failure(request.app[STATE])
    if isinstance(dropped, web.Response):
        return dropped
    return plan, dropped


async def _chat_completions(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    accepted = await _accepted(request, plan_chat_completion)
    if isinstance(accepted, web.Response):
        return accepted
    plan, dropped = accepted
    if plan.stream:
        return await _stream_completion(request, state, plan, dropped=dropped)
    return await _whole_completion(request, state, plan, dropped=dropped)


async def _text_completions(request: web.Request) -> web.StreamResponse:
    """Like chat completions: recorded, failures injected, whole or streamed."""
    state = request.app[STATE]
    accepted = await _accepted(request, plan_text_completion)
    if isinstance(accepted, web.Response):
        return accepted
    plan, dropped = accepted
    completion_id, created = f"cmpl-{uuid.uuid4().hex}", int(time.time())
    if plan.stream:
        frames = text_completion_frames(plan, completion_id=completion_id, created=created)
        return await _stream_frames(request, state, frames, dropped=dropped)
    await _sleep(state.config.time_to_first_token)
    answer = text_completion_body(plan, completion_id=completion_id, created=created)
    return web.Response(body=answer, content_type=_JSON)


async def _embeddings(request: web.Request) -> web.Response:
    body = await _recorded_body(request)
    if isinstance(body, web.Response):
        return body
    answer = embeddings_body(body, request.app[STATE].config)
    if isinstance(answer, ErrorAnswer):
        return _error_response(answer)
    return web.Response(body=answer, content_type=_JSON)


async def _whole_completion(
    request: web.Request, state: SimulatorState, plan: CompletionPlan, *, dropped: bool
) -> web.StreamResponse:
    config = state.config
    tokens_generated = plan.completion_tokens // 2 if dropped else plan.completion_tokens
    generation_seconds = config.inter_token_latency * max(0, tokens_generated - 1)
    await _sleep(config.time_to_first_token + generation_seconds)
    if dropped:
        _abort_connection(request)
        # Never sent: the connection is gone; aiohttp discards the write error.
        return web.Response(status=500)
    answer = completion_body(plan, completion_id=_completion_id(), created=int(time.time()))
    return web.Response(body=answer, content_type=_JSON)


async def _stream_completion(
    request: web.Request, state: SimulatorState, plan: CompletionPlan, *, dropped: bool
) -> web.StreamResponse:
    frames = stream_frames(plan, completion_id=_completion_id(), created=int(time.time()))
    return await _stream_frames(request, state, frames, dropped=dropped)


async def _stream_frames(
    request: web.Request, state: SimulatorState, frames: StreamFrames, *, dropped: bool
) -> web.StreamResponse:
    """Send an answer's frames at the configured pace; a dropped one stops halfway."""
    config = state.config
    # One write per token, the role chunk riding with the first token as vLLM sends it.
    writes = [frames.opening + b"".join(frames.pieces[:1]), *frames.pieces[1:]]
    if dropped:
        writes = writes[: max(1, len(writes) // 2)]
    else:
        writes[-1] += frames.closing
    if config.inter_token_latency == 0:
        writes = [b"".join(writes)]

    stats = state.stats
    response = web.StreamResponse(headers=_SSE_HEADERS)
    stats.active_streams += 1
    try:
        await response.prepare(request)
        first_token_at = asyncio.get_running_loop().time() + config.time_to_first_token
        for index, data in enumerate(writes):
            await _sleep_until(first_token_at + index * config.inter_token_latency)
            await response.write(data)
        if not dropped:
            await response.write_eof()
    except ConnectionResetError:
        stats.cancelled_streams += 1
        return response
    except asyncio.CancelledError:
        stats.cancelled_streams += 1
        raise
    finally:
        stats.active_streams -= 1
    if dropped:
        stats.dropped_streams += 1
        _abort_connection(request)
    else:
        stats.completed_streams += 1
    return response


async def _models(request: web.Request) -> web.Response:
    state = request.app[STATE]
    return web.Response(body=models_body(state.config, created=state.created), content_type=_JSON)


async def _health(_: web.Request) -> web.Response:
    return web.Response(status=200)


async def _tokenize(request: web.Request) -> web.Response:
    body = parse_json_object(await request.read())
    if isinstance(body, ErrorAnswer):
        return _error_response(body)
    answer = tokenize_body(body, request.app[STATE].config)
    if isinstance(answer, ErrorAnswer):
        return _error_response(answer)
    return web.Response(body=answer, content_type=_JSON)


async def _recorded_requests(request: web.Request) -> web.Response:
    recorded = list(request.app[STATE].recorded_requests)
    return web.Response(body=orjson.dumps(recorded), content_type=_JSON)


async def _recorded_headers(request: web.Request) -> web.Response:
    recorded = list(request.app[STATE].recorded_headers)
    return web.Response(body=orjson.dumps(recorded), content_type=_JSON)


async def _clear_recorded_requests(request: web.Request) -> web.Response:
    request.app[STATE].recorded_requests.clear()
    request.app[STATE].recorded_headers.clear()
    return web.Response(status=204)


async def _stats(request: web.Request) -> web.Response:
    stats = request.app[STATE].stats.as_dict()
    return web.Response(body=orjson.dumps(stats), content_type=_JSON)


def _error_response(
    answer: ErrorAnswer, *, headers: Mapping[str, str] | None = None
) -> web.Response:
    return web.Response(
        body=answer.body(), status=answer.status, content_type=_JSON, headers=headers
    )


def _completion_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex}"


def _abort_connection(request: web.Request) -> None:
    if request.transport is not None:
        request.transport.abort()


async def _sleep(seconds: float) -> None:
    if seconds > 0:
        await asyncio.sleep(seconds)


async def _sleep_until(deadline: float) -> None:
    await _sleep(deadline - asyncio.get_running_loop().time())
