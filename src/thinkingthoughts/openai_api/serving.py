"""OpenAI-compatible chat completions: personas as models, sessions by header, relay intact.

A persona model (`persona:<slug>`) puts the persona's compiled system prompt first (the
client's own system messages follow it) and runs on the configured upstream model; any
other model must be one the upstream serves and is relayed as is. The client keeps its
own history, as OpenAI clients do: with a session, the new user turn and the reply are
recorded there, and what goes upstream is what the client sent.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from thinkingthoughts.chat.recording import ReplyRelay, record_reply, recorded_if_unanswered
from thinkingthoughts.chat.service import session_title
from thinkingthoughts.chat.turns import ReplyTarget
from thinkingthoughts.errors import InvalidRequestError, NotFoundError
from thinkingthoughts.openai_api.protocol import (
    PERSONA_MODEL_PREFIX,
    ChatCompletionRequest,
    ChatMessage,
    ModelCard,
)
from thinkingthoughts.personas.registry import PersonaRecord, PersonaRegistry
from thinkingthoughts.storage import message_store, session_store
from thinkingthoughts.storage.database import Database
from thinkingthoughts.storage.models import ChatSession
from thinkingthoughts.upstream.client import UpstreamClient
from thinkingthoughts.upstream.models import ModelResolver

NEW_SESSION = "new"
"""The `X-Session-Id` value that starts a session; its id comes back in the same header."""

OWNED_BY = "thinkingthoughts"


@dataclass(frozen=True, slots=True)
class OpenAITurn:
    payload: dict[str, Any]
    reported_model: str
    include_usage: bool
    target: ReplyTarget

    @property
    def session_id(self) -> str | None:
        return self.target.session_id


class OpenAIStream:
    """Upstream chunks as OpenAI clients expect them, with the requested model's name."""

    def __init__(self, turn: OpenAITurn, relay: ReplyRelay) -> None:
        self._turn = turn
        self._relay = relay

    async def chunks(self) -> AsyncIterator[dict[str, Any]]:
        async for chunk in self._relay.chunks():
            body = {**chunk.raw, "model": self._turn.reported_model}
            usage_only = not body.get("choices")
            if usage_only and not self._turn.include_usage:
                continue
            yield body

    async def finish(self) -> None:
        await self._relay.finish()


class OpenAIChatService:
    def __init__(
        self,
        *,
        database: Database,
        upstream: UpstreamClient,
        models: ModelResolver,
        personas: PersonaRegistry,
    ) -> None:
        self._database = database
        self._upstream = upstream
        self._models = models
        self._personas = personas

    async def prepare(
        self,
        request: ChatCompletionRequest,
        *,
        owner: str,
        session_ref: str | None,
        client_ref: str | None = None,
    ) -> OpenAITurn:
        """Check the model and session, record the user's turn, build the upstream call.

        `session_ref` is the `X-Session-Id` header; without it, `client_ref` (the `user`
        field, when the operator enables that) names a session of the key's own, made on
        first use.
        """
        resolved = await self._models.resolve()
        messages = request.upstream_messages()
        async with self._database.session() as db, db.begin():
            persona: PersonaRecord | None = None
            traits: dict[str, int] = {}
            if request.persona_slug is not None:
                persona = await self._persona_model(db, request.model, request.persona_slug)
                traits = self._personas.trait_levels(persona, request.traits or {})
                system = self._personas.system_prompt(persona, traits)
                messages = [{"role": "system", "content": system}, *messages]
                upstream_model = resolved.name
            else:
                if request.traits:
                    raise InvalidRequestError(
                        "'traits' apply to persona models (persona:<slug>)", code="invalid_traits"
                    )
                upstream_model = await self._served_model(request.model, resolved.name)
            session_id = None
            if session_ref is not None or client_ref is not None:
                session = await self._session(
                    db, session_ref, client_ref, owner, persona, request, traits
                )
                for text in new_user_texts(request.messages):
                    await message_store.append_message(
                        db, session_id=session.id, role="user", content=text
                    )
                session_id = session.id
        return OpenAITurn(
            payload={**request.passthrough_fields(), "model": upstream_model, "messages": messages},
            reported_model=request.model,
            include_usage=request.include_usage,
            target=ReplyTarget(
                session_id=session_id,
                message_id=str(uuid.uuid4()) if session_id else None,
                model=upstream_model,
            ),
        )

    async def complete(self, turn: OpenAITurn) -> dict[str, Any]:
        async with recorded_if_unanswered(self._database, turn.target):
            completion = await self._upstream.complete(turn.payload)
        await record_reply(
            self._database,
            turn.target,
            content=completion.content,
            status="complete",
            usage=completion.usage,
            finish_reason=completion.finish_reason,
        )
        return {**completion.raw, "model": turn.reported_model}

    async def open_stream(self, turn: OpenAITurn) -> OpenAIStream:
        """Open the upstream stream; failures before its first byte raise here."""
        async with recorded_if_unanswered(self._database, turn.target):
            upstream = await self._upstream.open_stream(turn.payload)
        return OpenAIStream(turn, ReplyRelay(self._database, turn.target, upstream))

    async def list_models(self, db: AsyncSession, *, created: int) -> list[ModelCard]:
        """The upstream's models, then one model per persona."""
        upstream = await self._upstream.list_models()
        cards = [ModelCard(id=m.id, created=created, owned_by=OWNED_BY) for m in upstream]
        cards += [
            ModelCard(id=PERSONA_MODEL_PREFIX + p.slug, created=created, owned_by=OWNED_BY)
            for p in await self._personas.list(db)
        ]
        return cards

    async def _persona_model(self, db: AsyncSession, model: str, slug: str) -> PersonaRecord:
        try:
            return await self._personas.get(db, slug)
        except NotFoundError as exc:
            raise model_not_found(model) from exc

    async def _served_model(self, model: str, configured: str) -> str:
        if model == configured:
            return model
        if model in {m.id for m in await self._upstream.list_models()}:
            return model
        raise model_not_found(model)

    async def _session(
        self,
        db: AsyncSession,
        session_ref: str | None,
        client_ref: str | None,
        owner: str,
        persona: PersonaRecord | None,
        request: ChatCompletionRequest,
        traits: dict[str, int],
    ) -> ChatSession:
        texts = new_user_texts(request.messages)

        async def create(ref: str | None = None) -> ChatSession:
            return await session_store.create_session(
                db,
                owner=owner,
                persona_id=persona.id if persona else None,
                traits={k: traits[k] for k in request.traits or {} if k in traits},
                title=session_title(texts[0]) if texts else None,
                client_ref=ref,
            )

        if session_ref == NEW_SESSION:
            return await create()
        if session_ref is not None:
            session = await session_store.get_session(db, session_id=session_ref, owner=owner)
            if session is None:
                raise NotFoundError(f"no session '{session_ref}'", code="session_not_found")
        else:
            assert client_ref is not None
            session = await self._session_for_client_ref(db, owner, client_ref, create)
        if persona is not None:
            session.persona_id = persona.id
        return session

    async def _session_for_client_ref(
        self,
        db: AsyncSession,
        owner: str,
        client_ref: str,
        create: Callable[[str], Awaitable[ChatSession]],
    ) -> ChatSession:
        found = await session_store.get_session_by_client_ref(
            db, owner=owner, client_ref=client_ref
        )
        if found is not None:
            return found
        try:
            async with db.begin_nested():
                return await create(client_ref)
        except IntegrityError:  # a concurrent first request made it meanwhile
            found = await session_store.get_session_by_client_ref(
                db, owner=owner, client_ref=client_ref
            )
            if found is None:
                raise
            return found


def model_not_found(model: str) -> NotFoundError:
    return NotFoundError(f"The model `{model}` does not exist.", code="model_not_found")


def new_user_texts(messages: Sequence[ChatMessage]) -> list[str]:
    """The user's new turn: the user messages after the last reply, oldest first."""
    texts: list[str] = []
    for message in reversed(messages):
        if message.role != "user":
            break
        texts.append(message.text())
    return texts[::-1]
