"""OpenAI's Responses API over HTTP: `POST /v1/responses` and `GET /v1/responses/{id}`.

The same key, scopes, limits, allow-lists, metering and keep-alives as chat completions;
the turn itself is `ResponsesService`'s (a chat turn). A stream is OpenAI's: each event
named (`event:`) by its `type`, no `[DONE]`; an upstream that fails before the first
event but after the grace ends the stream with an `error` event.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response

from thinkingthoughts.api.deps import ChatPrincipal, ReadPrincipal, Resources
from thinkingthoughts.api.limits import enforce_message_limits
from thinkingthoughts.api.openai import finish_stream
from thinkingthoughts.api.responses import FastJSONResponse, json_text
from thinkingthoughts.api.turn_answer import admitted_turn
from thinkingthoughts.context.tokens import estimate_prompt_tokens, reply_token_ceiling
from thinkingthoughts.errors import GatewayError
from thinkingthoughts.openai_api.responses import ResponsesService, ResponseStream
from thinkingthoughts.openai_api.responses_protocol import ResponsesRequest
from thinkingthoughts.value_rules import AcceptableText

router = APIRouter(prefix="/v1", tags=["openai"])


def responses_service(resources: Resources) -> ResponsesService:
    return ResponsesService(
        database=resources.database,
        chat=resources.openai,
        models=resources.models,
        default_max_tokens=resources.settings.max_tokens,
    )


Responses = Annotated[ResponsesService, Depends(responses_service)]


@router.post("/responses", response_model=None)
async def create_response(
    body: ResponsesRequest,
    principal: ChatPrincipal,
    resources: Resources,
    responses: Responses,
    http: Request,
) -> Response:
    """A model response to `input`, continuing `previous_response_id` when given; stored
    unless `store` is false. `"stream": true` answers with OpenAI's response events."""
    texts = body.texts()
    enforce_message_limits(texts, resources.settings)
    estimated = estimate_prompt_tokens({"content": t} for t in texts)
    async with admitted_turn(http, resources, principal, estimated_tokens=estimated) as admitted:
        turn = await responses.prepare(
            body,
            owner=principal.owner,
            policy=principal.policy,
            sees_every_persona=principal.persona_owner is None,
            meter=admitted.meter,
        )
        chat = turn.chat
        await admitted.meter.begin(
            persona=chat.persona_slug,
            model=chat.upstream_model,
            prompt_estimate=chat.prompt_estimate,
            reply_tokens=reply_token_ceiling(chat.payload, resources.settings.max_tokens),
        )
        if not body.stream:
            return await admitted.whole(responses.create(turn), FastJSONResponse)
        return await admitted.streamed(
            responses.open_stream(turn),
            events=response_events,
            close=finish_stream,
            separator="\n",
        )


@router.get("/responses/{response_id}", response_model=None)
async def retrieve_response(
    response_id: AcceptableText, principal: ReadPrincipal, responses: Responses
) -> Response:
    """A stored response of the caller's; 404 for any other id (unknown, another
    owner's, or one made with `store: false`)."""
    return FastJSONResponse(await responses.retrieve(response_id, owner=principal.owner))


async def response_events(opening: asyncio.Task[ResponseStream]) -> AsyncIterator[dict[str, str]]:
    try:
        stream = await opening
    except GatewayError as exc:
        yield named_event(error_event(exc))
        return
    async for event in stream.chunks():
        yield named_event(event)


def named_event(event: dict[str, Any]) -> dict[str, str]:
    return {"event": str(event["type"]), "data": json_text(event)}


def error_event(exc: GatewayError) -> dict[str, Any]:
    """OpenAI's `error` event, for a stream that failed before its first event."""
    return {
        "type": "error",
        "code": exc.code,
        "message": exc.message,
        "param": exc.param,
        "sequence_number": 0,
    }
