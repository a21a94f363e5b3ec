"""The OpenAI-compatible surface over HTTP: `/v1/chat/completions`, `/v1/models`, and
`/v1/completions` and `/v1/embeddings` relayed to the upstream."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from typing import Annotated, TypeVar

from fastapi import APIRouter, Depends, Header, Request, Response

from thinkingthoughts.api.deps import ChatPrincipal, DbSession, ReadPrincipal, Resources
from thinkingthoughts.api.errors import gateway_error_body
from thinkingthoughts.api.limits import enforce_message_limits
from thinkingthoughts.api.responses import FastJSONResponse, json_text
from thinkingthoughts.api.turn_answer import admitted_turn
from thinkingthoughts.context.tokens import estimate_prompt_tokens, reply_token_ceiling
from thinkingthoughts.errors import GatewayError
from thinkingthoughts.openai_api.model_catalog import ModelCatalog
from thinkingthoughts.openai_api.protocol import ChatCompletionRequest, ModelCard, ModelList
from thinkingthoughts.openai_api.relay import ChunkStream, UpstreamRelay
from thinkingthoughts.openai_api.relay_protocol import CompletionRequest, EmbeddingRequest
from thinkingthoughts.value_rules import AcceptableText

router = APIRouter(prefix="/v1", tags=["openai"])

SESSION_HEADER = "X-Session-Id"
CLIENT_REF_LENGTH = 128
DONE = "[DONE]"

S = TypeVar("S", bound=ChunkStream)


def model_catalog(resources: Resources) -> ModelCatalog:
    return ModelCatalog(
        upstream=resources.upstream, models=resources.models, personas=resources.personas
    )


Catalog = Annotated[ModelCatalog, Depends(model_catalog)]


@router.get("/models", response_model=ModelList)
async def list_models(principal: ReadPrincipal, catalog: Catalog, db: DbSession) -> Response:
    """The models this key may use: upstream models as the upstream lists them, then one
    per visible persona."""
    cards = await catalog.list(db, policy=principal.policy, visible_to=principal.persona_owner)
    return FastJSONResponse({"object": "list", "data": cards})


@router.get("/models/{model_id:path}", response_model=ModelCard)
async def retrieve_model(
    model_id: AcceptableText, principal: ReadPrincipal, catalog: Catalog, db: DbSession
) -> Response:
    """One model this key may use (ids may hold slashes: `mistralai/Mistral-7B`); 404
    `model_not_found` for any other."""
    card = await catalog.retrieve(
        db, model_id, policy=principal.policy, visible_to=principal.persona_owner
    )
    return FastJSONResponse(card)


@router.post("/chat/completions", response_model=None)
async def chat_completions(
    body: ChatCompletionRequest,
    principal: ChatPrincipal,
    resources: Resources,
    http: Request,
    x_session_id: Annotated[
        str | None,
        Header(
            max_length=64,
            description="`new`, or a session id: the caller's, or a UUID of the client's "
            "choosing that starts a session; anything else is a 400 `invalid_session_id`",
        ),
    ] = None,
) -> Response:
    texts = [m.text() for m in body.messages]
    enforce_message_limits(texts, resources.settings)
    estimated = estimate_prompt_tokens({"content": t} for t in texts)
    async with admitted_turn(http, resources, principal, estimated_tokens=estimated) as admitted:
        from_user = resources.settings.openai_session_from_user
        turn = await resources.openai.prepare(
            body,
            owner=principal.owner,
            session_ref=x_session_id or None,
            client_ref=client_ref_from(body.user) if from_user else None,
            policy=principal.policy,
            sees_every_persona=principal.persona_owner is None,
            meter=admitted.meter,
        )
        await admitted.meter.begin(
            persona=turn.persona_slug,
            model=turn.upstream_model,
            prompt_estimate=turn.prompt_estimate,
            reply_tokens=reply_token_ceiling(turn.payload, resources.settings.max_tokens),
        )
        if not body.stream:
            return await admitted.whole(
                resources.openai.complete(turn),
                lambda done: FastJSONResponse(done.body, headers=session_header(done.session_id)),
            )
        return await admitted.streamed(
            resources.openai.open_stream(turn),
            events=openai_sse_once_open,
            close=finish_stream,
            headers=session_header(turn.announced_session_id),
            separator="\n",
        )


def upstream_relay(resources: Resources) -> UpstreamRelay:
    return UpstreamRelay(
        database=resources.database, upstream=resources.upstream, models=resources.models
    )


Relay = Annotated[UpstreamRelay, Depends(upstream_relay)]


@router.post("/completions", response_model=None)
async def completions(
    body: CompletionRequest,
    principal: ChatPrincipal,
    resources: Resources,
    relay: Relay,
    http: Request,
) -> Response:
    """A text completion, relayed: same key, limits and allow-lists as a chat; no persona."""
    await relay.check_model(body.model, principal.policy)
    payload = body.upstream_payload()
    prompt_tokens = body.prompt_tokens()
    async with admitted_turn(
        http, resources, principal, estimated_tokens=prompt_tokens
    ) as admitted:
        meter = admitted.meter
        await meter.begin(
            persona=None,
            model=body.model,
            prompt_estimate=prompt_tokens,
            reply_tokens=reply_token_ceiling(payload, resources.settings.max_tokens),
        )
        if not body.stream:
            return await admitted.whole(relay.complete_text(payload, meter), FastJSONResponse)
        return await admitted.streamed(
            relay.open_text_stream(payload, include_usage=body.include_usage, meter=meter),
            events=openai_sse_once_open,
            close=finish_stream,
            separator="\n",
        )


@router.post("/embeddings", response_model=None)
async def embeddings(
    body: EmbeddingRequest,
    principal: ChatPrincipal,
    resources: Resources,
    relay: Relay,
    http: Request,
) -> Response:
    """Embeddings, relayed: the key's token window is charged the upstream's prompt tokens."""
    await relay.check_model(body.model, principal.policy)
    input_tokens = body.input_tokens()
    async with admitted_turn(http, resources, principal, estimated_tokens=input_tokens) as admitted:
        await admitted.meter.begin(
            persona=None, model=body.model, prompt_estimate=input_tokens, reply_tokens=0
        )
        return await admitted.whole(
            relay.embed(body.upstream_payload(), admitted.meter), FastJSONResponse
        )


def session_header(session_id: str | None) -> dict[str, str]:
    return {SESSION_HEADER: session_id} if session_id else {}


def client_ref_from(user: str | None) -> str | None:
    """The session key a `user` value names; long values are hashed to fit the column."""
    if not user:
        return None
    if len(user) <= CLIENT_REF_LENGTH:
        return user
    return "sha256:" + hashlib.sha256(user.encode()).hexdigest()


async def openai_sse_once_open(opening: asyncio.Task[S]) -> AsyncIterator[dict[str, str]]:
    try:
        stream = await opening
    except GatewayError as exc:
        yield {"data": json_text(gateway_error_body(exc, openai=True))}
        return
    async for event in openai_sse(stream):
        yield event


async def finish_stream(stream: ChunkStream) -> None:
    """After the response, whatever happened: an opened stream is closed and recorded."""
    await stream.finish()


async def openai_sse(stream: ChunkStream) -> AsyncIterator[dict[str, str]]:
    """`data:` events as OpenAI sends them, `[DONE]` last; an error after the start is a
    final `data:` event in OpenAI's error shape. `[DONE]` follows the stored reply, so a
    reply that could not be stored ends with the error instead."""
    try:
        async for chunk in stream.chunks():
            yield {"data": json_text(chunk)}
        await stream.finish()
        yield {"data": DONE}
    except GatewayError as exc:
        yield {"data": json_text(gateway_error_body(exc, openai=True))}
    finally:
        await stream.finish()
