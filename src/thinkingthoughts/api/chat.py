"""`POST /api/chat`: the native chat turn, whole or streamed as Server-Sent Events."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing
from dataclasses import asdict, replace
from functools import partial
from typing import Any

from fastapi import APIRouter, Request, Response
from sse_starlette import EventSourceResponse

from thinkingthoughts.access.principal import Principal
from thinkingthoughts.api.chat_schemas import ChatRequest, ChatResponse, UsageOut
from thinkingthoughts.api.deps import ChatPrincipal, Resources
from thinkingthoughts.api.errors import gateway_error_body
from thinkingthoughts.api.limits import enforce_message_limits
from thinkingthoughts.api.responses import FastJSONResponse, json_text
from thinkingthoughts.api.turn_answer import admitted_turn
from thinkingthoughts.context.tokens import estimate_prompt_tokens
from thinkingthoughts.engine.turn import (
    StreamDelta,
    StreamEvent,
    StreamFinished,
    StreamStarted,
    TurnMessage,
    TurnRequest,
    TurnResult,
)
from thinkingthoughts.errors import GatewayError
from thinkingthoughts.settings import Settings

router = APIRouter(prefix="/api", tags=["chat"])


@router.post("/chat", response_model=None)
async def chat(
    body: ChatRequest, principal: ChatPrincipal, resources: Resources, http: Request
) -> ChatResponse | EventSourceResponse | Response:
    request = turn_request(body, principal, resources.settings)
    estimated = estimate_prompt_tokens(asdict(m) for m in request.messages)
    async with admitted_turn(http, resources, principal, estimated_tokens=estimated) as admitted:
        turn = await resources.chat.prepare(replace(request, meter=admitted.meter))
        await admitted.meter.begin(
            persona=turn.persona_slug,
            model=turn.model,
            prompt_estimate=turn.prompt_estimate,
            reply_tokens=turn.max_tokens,
        )
        if not body.stream:
            return await admitted.whole(resources.chat.complete(turn), chat_response)
        events = resources.chat.stream(turn)
        return await admitted.streamed(
            anext(events),
            events=partial(sse_events, events=events),
            close=lambda _started: events.aclose(),
        )


def chat_response(result: TurnResult) -> Response:
    return FastJSONResponse(
        ChatResponse(
            assistant=result.content,
            session_id=result.session_id,
            message_id=result.message_id,
            user_message_id=result.user_message_id,
            parent_id=result.parent_id,
            persona=result.persona_slug,
            model=result.model,
            finish_reason=result.finish_reason,
            usage=UsageOut(**result.usage.as_dict()) if result.usage else None,
        ).model_dump(mode="json")
    )


def turn_request(body: ChatRequest, principal: Principal, settings: Settings) -> TurnRequest:
    turns = body.turns()
    enforce_message_limits([m.content for m in turns], settings)
    sampling = {
        name: value
        for name, value in (("temperature", body.temperature), ("top_p", body.top_p))
        if value is not None
    }
    return TurnRequest(
        owner=principal.owner,
        session_id=body.session_id,
        persona_ref=body.persona,
        traits=body.traits,
        messages=tuple(TurnMessage(role=m.role, content=m.content) for m in turns),
        stateless=body.stateless,
        max_tokens=body.max_tokens,
        sampling=sampling,
        policy=principal.policy,
        sees_every_persona=principal.persona_owner is None,
        model=body.model,
        regenerate=body.regenerate,
        parent_id=body.parent_id,
    )


async def sse_events(
    starting: asyncio.Future[StreamEvent], *, events: AsyncGenerator[StreamEvent, None]
) -> AsyncIterator[dict[str, str]]:
    """The named events of a native stream; the first may still be on its way."""
    async with aclosing(events):
        try:
            yield sse_event(await starting)
            async for event in events:
                yield sse_event(event)
        except GatewayError as exc:
            yield {"event": "error", "data": json_text(gateway_error_body(exc))}


def sse_event(event: StreamEvent) -> dict[str, str]:
    match event:
        case StreamStarted():
            payload: dict[str, Any] = {
                "session_id": event.session_id,
                "message_id": event.message_id,
                "user_message_id": event.user_message_id,
                "parent_id": event.parent_id,
                "persona": event.persona_slug,
                "model": event.model,
            }
            return {"event": "start", "data": json_text(payload)}
        case StreamDelta():
            return {"event": "delta", "data": json_text({"content": event.content})}
        case StreamFinished():
            payload = {
                "message_id": event.message_id,
                "finish_reason": event.finish_reason,
                "usage": event.usage.as_dict() if event.usage else None,
            }
            return {"event": "done", "data": json_text(payload)}
