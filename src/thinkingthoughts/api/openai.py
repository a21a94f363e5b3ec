"""`/v1/chat/completions` and `/v1/models`: the OpenAI-compatible surface over HTTP."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Header, Request, Response
from sse_starlette import EventSourceResponse
from starlette.background import BackgroundTask

from thinkingthoughts.api.deps import ChatPrincipal, DbSession, ReadPrincipal, Resources
from thinkingthoughts.api.disconnect import CLIENT_CLOSED_REQUEST, unless_client_leaves
from thinkingthoughts.api.errors import gateway_error_body
from thinkingthoughts.api.limits import enforce_message_limits
from thinkingthoughts.api.responses import FastJSONResponse
from thinkingthoughts.errors import GatewayError
from thinkingthoughts.openai_api.protocol import ChatCompletionRequest, ModelList
from thinkingthoughts.openai_api.serving import OpenAIStream

router = APIRouter(prefix="/v1", tags=["openai"])

SESSION_HEADER = "X-Session-Id"
DONE = "[DONE]"


@router.get("/models")
async def list_models(_: ReadPrincipal, resources: Resources, db: DbSession) -> ModelList:
    return ModelList(data=await resources.openai.list_models(db, created=int(time.time())))


@router.post("/chat/completions", response_model=None)
async def chat_completions(
    body: ChatCompletionRequest,
    principal: ChatPrincipal,
    resources: Resources,
    http: Request,
    x_session_id: Annotated[str | None, Header(max_length=64)] = None,
) -> Response:
    enforce_message_limits([m.text() for m in body.messages], resources.settings)
    from_user = resources.settings.openai_session_from_user
    turn = await resources.openai.prepare(
        body,
        owner=principal.owner,
        session_ref=x_session_id or None,
        client_ref=body.user if from_user and body.user else None,
    )
    headers = {SESSION_HEADER: turn.session_id} if turn.session_id else {}
    if not body.stream:
        completion = await unless_client_leaves(http, resources.openai.complete(turn))
        if completion is None:
            return Response(status_code=CLIENT_CLOSED_REQUEST)
        return FastJSONResponse(completion, headers=headers)
    stream = await resources.openai.open_stream(turn)
    return EventSourceResponse(
        openai_sse(stream),
        ping=resources.settings.sse_keepalive_seconds,
        sep="\n",
        headers={**headers, "Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        background=BackgroundTask(stream.finish),
    )


async def openai_sse(stream: OpenAIStream) -> AsyncIterator[dict[str, str]]:
    """`data:` events as OpenAI sends them, `[DONE]` last; an error after the start is a
    final `data:` event in OpenAI's error shape."""
    try:
        async for chunk in stream.chunks():
            yield {"data": _json(chunk)}
        yield {"data": DONE}
    except GatewayError as exc:
        yield {"data": _json(gateway_error_body(exc, openai=True))}
    finally:
        await stream.finish()


def _json(payload: Any) -> str:
    return orjson.dumps(payload).decode()
