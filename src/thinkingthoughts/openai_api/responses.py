"""The Responses API as a chat turn: an adapter in front of `OpenAIChatService` and an
encoder behind it, not a pipeline of its own.

A response request becomes the chat-completions turn whose messages are: the stored
path up to `previous_response_id` (when given), then `instructions` as a system
message, then `input`; a persona model's prompt goes first, as on chat completions.
Where it is recorded follows from `store` and `previous_response_id`:

- `store` (the default) without a previous response: a new session of the caller's;
- with a previous response: that reply's session, the new input under that reply (two
  responses continuing the same one are two branches);
- `store: false`: nothing is written (a previous response is still read).

A stored response is its assistant message: `resp_<hex>` is the message's uuid, so a
`previous_response_id` names a message and `GET /v1/responses/{id}` reads one.
"""

from __future__ import annotations

import dataclasses
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from sqlalchemy import Connection

from thinkingthoughts.access.key_policy import KeyPolicy
from thinkingthoughts.context.budget import ContextBudget
from thinkingthoughts.engine.persist import history_tail
from thinkingthoughts.errors import GatewayError, NotFoundError
from thinkingthoughts.openai_api.protocol import PERSONA_MODEL_PREFIX, ChatCompletionRequest
from thinkingthoughts.openai_api.responses_encoding import (
    ResponseEvents,
    ResponseFrame,
    ResponseStatus,
    response_object,
    status_for,
)
from thinkingthoughts.openai_api.responses_protocol import (
    ResponsesRequest,
    message_id_for,
    response_id_for,
)
from thinkingthoughts.openai_api.serving import (
    NEW_SESSION,
    OpenAIChatService,
    OpenAIStream,
    OpenAITurn,
)
from thinkingthoughts.storage import response_rows
from thinkingthoughts.storage.database import Database
from thinkingthoughts.storage.response_rows import StoredReply
from thinkingthoughts.upstream.models import ModelResolver
from thinkingthoughts.upstream.protocol import Usage, chunk_from, completion_from
from thinkingthoughts.usage.metering import TurnMeter

UPSTREAM_ROLES = {"developer": "system"}
"""Input roles the upstream's chat templates may not know, by the role they mean there."""
FAILED_REPLY = {"code": "server_error", "message": "the model failed while answering"}


@dataclass(frozen=True, slots=True)
class ResponseTurn:
    """A response request, checked and turned into its chat turn; nothing written yet."""

    chat: OpenAITurn
    frame: ResponseFrame


def chat_request_for(
    request: ResponsesRequest, history: Sequence[dict[str, Any]]
) -> ChatCompletionRequest:
    """The chat-completions request a response request is: `history` (the stored path,
    oldest first), the instructions, the input; sampling fields under their chat names."""
    messages: list[dict[str, Any]] = []
    if request.instructions is not None:
        messages.append({"role": "system", "content": request.instructions})
    messages.extend(history)
    messages.extend(
        {"role": UPSTREAM_ROLES.get(m.role, m.role), "content": m.text()}
        for m in request.input_messages()
    )
    body: dict[str, Any] = {
        "model": request.model,
        "messages": messages,
        "stream": request.stream,
        **request.sampling_fields(),
    }
    if request.traits is not None:
        body["traits"] = request.traits
    if request.stream:
        body["stream_options"] = {"include_usage": True}  # response.completed carries usage
    return ChatCompletionRequest.model_validate(body)


def reported_model(reply: StoredReply) -> str:
    """The model a stored response names: its session's persona model, when it has one."""
    if reply.persona_slug is not None:
        return PERSONA_MODEL_PREFIX + reply.persona_slug
    return reply.model or ""


def stored_status(reply: StoredReply) -> ResponseStatus:
    if reply.status == "interrupted":
        return "cancelled"
    if reply.status == "error":
        return "failed"
    return status_for(reply.finish_reason)


class ResponseStream:
    """A streamed response's events, from an opened chat stream; `finish()` always runs."""

    def __init__(self, stream: OpenAIStream, events: ResponseEvents) -> None:
        self._stream = stream
        self._events = events

    async def chunks(self) -> AsyncIterator[dict[str, Any]]:
        """Every event of the response, `response.created` first. The final event follows
        the stored reply, so a reply that could not be stored ends as `response.failed`."""
        for event in self._events.opening():
            yield event
        usage: Usage | None = None
        finish_reason: str | None = None
        try:
            async for body in self._stream.chunks():
                chunk = chunk_from(body)
                usage = chunk.usage or usage
                finish_reason = chunk.finish_reason or finish_reason
                if chunk.content:
                    yield self._events.delta(chunk.content)
            await self._stream.finish()
        except GatewayError as failure:
            yield self._events.failure(failure.message)
            return
        finally:
            await self._stream.finish()
        for event in self._events.closing(usage=usage, finish_reason=finish_reason):
            yield event

    async def finish(self) -> None:
        await self._stream.finish()


class ResponsesService:
    def __init__(
        self,
        *,
        database: Database,
        chat: OpenAIChatService,
        models: ModelResolver,
        default_max_tokens: int,
    ) -> None:
        self._database = database
        self._chat = chat
        self._models = models
        self._default_max_tokens = default_max_tokens

    async def prepare(
        self,
        request: ResponsesRequest,
        *,
        owner: str,
        policy: KeyPolicy,
        sees_every_persona: bool,
        meter: TurnMeter | None,
    ) -> ResponseTurn:
        """Check the request (model, persona, previous response) and build its chat
        turn; writes nothing, so a refused request stores nothing."""
        previous = await self._previous_reply(request.previous_response_id, owner)
        history = await self._path_to(previous, request) if previous is not None else []
        if not request.store:
            session_ref = None
        else:
            session_ref = previous.session_id if previous is not None else NEW_SESSION
        chat = await self._chat.prepare(
            chat_request_for(request, history),
            owner=owner,
            session_ref=session_ref,
            policy=policy,
            sees_every_persona=sees_every_persona,
            meter=meter,
        )
        if chat.plan is not None and previous is not None:
            # The input goes under the previous reply, wherever the session's active leaf is.
            chat = dataclasses.replace(
                chat, plan=dataclasses.replace(chat.plan, parent_id=previous.id)
            )
        # Not stored: an id no stored message has, so retrieving it finds nothing.
        reply_id = chat.plan.reply_id if chat.plan is not None else str(uuid.uuid4())
        frame = ResponseFrame(
            response_id=response_id_for(reply_id),
            created_at=int(time.time()),
            model=request.model,
            store=request.store,
            instructions=request.instructions,
            previous_response_id=request.previous_response_id,
            metadata=dict(request.metadata or {}),
            max_output_tokens=request.max_output_tokens,
            temperature=request.temperature,
            top_p=request.top_p,
            user=request.user,
        )
        return ResponseTurn(chat=chat, frame=frame)

    async def create(self, turn: ResponseTurn) -> dict[str, Any]:
        """The whole response (the chat turn records it, as a completion's reply)."""
        completion = await self._chat.complete(turn.chat)
        reply = completion_from(completion.body, fallback_model=turn.frame.model)
        return response_object(
            turn.frame,
            status=status_for(reply.finish_reason),
            text=reply.content,
            usage=reply.usage,
        )

    async def open_stream(self, turn: ResponseTurn) -> ResponseStream:
        """Open the upstream stream; failures before its first byte raise here."""
        stream = await self._chat.open_stream(turn.chat)
        return ResponseStream(stream, ResponseEvents(turn.frame))

    async def retrieve(self, response_id: str, *, owner: str) -> dict[str, Any]:
        """A stored response of the owner's; 404 `response_not_found` for any other id."""
        message_id = message_id_for(response_id)
        found = None
        if message_id is not None:
            found = await self._database.run(partial(_reply_and_previous, message_id, owner))
        if found is None:
            raise NotFoundError(
                f"Response with id '{response_id}' not found.", code="response_not_found"
            )
        reply, previous_id = found
        frame = ResponseFrame(
            response_id=response_id,
            created_at=int(reply.created_at.timestamp()),
            model=reported_model(reply),
            store=True,
            previous_response_id=response_id_for(previous_id) if previous_id else None,
        )
        status = stored_status(reply)
        usage = None
        if reply.prompt_tokens is not None and reply.completion_tokens is not None:
            usage = Usage(reply.prompt_tokens, reply.completion_tokens)
        return response_object(
            frame,
            status=status,
            text=reply.content,
            usage=usage,
            error=FAILED_REPLY if status == "failed" else None,
        )

    async def _previous_reply(self, response_id: str | None, owner: str) -> StoredReply | None:
        if response_id is None:
            return None
        message_id = message_id_for(response_id)
        reply = None if message_id is None else await self._find(message_id, owner)
        if reply is None:
            # A 404, as for an unknown session: the id is well-formed, only unknown here.
            raise NotFoundError(
                f"Previous response with id '{response_id}' not found.",
                code="previous_response_not_found",
                param="previous_response_id",
            )
        return reply

    async def _find(self, message_id: str, owner: str) -> StoredReply | None:
        return await self._database.run(
            partial(response_rows.find_reply, message_id=message_id, owner=owner)
        )

    async def _path_to(self, reply: StoredReply, request: ResponsesRequest) -> list[dict[str, Any]]:
        """The stored path from its root through `reply`, as chat messages: its newest
        part that fits the model's context beside the new input and the reply."""
        if request.model.startswith(PERSONA_MODEL_PREFIX):
            model = await self._models.resolve()
        else:
            model = await self._models.resolve_named(request.model)
        reply_tokens = request.max_output_tokens or self._default_max_tokens
        budget = ContextBudget(model.max_model_len, reply_tokens).prompt_tokens
        new_text = "\n".join(request.texts())
        return await self._database.run(
            partial(history_tail, leaf_id=reply.id, system_prompt=new_text, budget=budget)
        )


def _reply_and_previous(
    message_id: str, owner: str, conn: Connection
) -> tuple[StoredReply, str | None] | None:
    reply = response_rows.find_reply(conn, message_id=message_id, owner=owner)
    if reply is None:
        return None
    return reply, response_rows.previous_reply_id(conn, reply_id=reply.id)
