"""OpenAI-compatible chat completions: personas as models, sessions by header, relay intact.

A persona model (`persona:<slug>`) puts the persona's compiled system prompt first (the
client's own system messages follow it) and runs on the configured upstream model; any
other model must be one the upstream serves and is relayed as is. The client keeps its
own history, as OpenAI clients do: with a session, the new user turn and the reply are
recorded there, and what goes upstream is what the client sent.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import anyio
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncSession

from thinkingthoughts.access.key_policy import KeyPolicy
from thinkingthoughts.context.assembler import assemble_prompt
from thinkingthoughts.context.tokens import estimate_message_tokens, estimate_prompt_tokens
from thinkingthoughts.engine.persist import session_title
from thinkingthoughts.engine.pipeline import require_allowed
from thinkingthoughts.engine.record import (
    ReplyRelay,
    record_reply,
    record_unfinished,
    storable_completion,
)
from thinkingthoughts.engine.session_ids import canonical_session_id
from thinkingthoughts.engine.turn import ReplyTarget
from thinkingthoughts.errors import (
    ConcurrentChangeError,
    InvalidRequestError,
    NotFoundError,
    SessionNotFoundError,
)
from thinkingthoughts.observability.metrics import counting_upstream_errors
from thinkingthoughts.openai_api.protocol import (
    ChatCompletionRequest,
    ChatMessage,
)
from thinkingthoughts.personas.registry import PersonaRecord, PersonaRegistry
from thinkingthoughts.storage import session_store, turn_rows
from thinkingthoughts.storage.database import Database
from thinkingthoughts.storage.turn_rows import ACTIVE_LEAF, ParentChoice
from thinkingthoughts.upstream.client import UpstreamClient
from thinkingthoughts.upstream.models import ModelResolver, model_not_found
from thinkingthoughts.upstream.protocol import completion_tool_calls
from thinkingthoughts.usage.metering import TurnMeter

NEW_SESSION = "new"
"""The `X-Session-Id` value that starts a session; its id comes back in the same header."""


@dataclass(frozen=True, slots=True)
class SessionPlan:
    """Where a turn will be recorded, checked before the upstream call, written after it
    accepted the request: a refused request stores nothing."""

    owner: str
    session_id: str | None
    """An existing session of the owner's; None makes one (or finds it by client_ref)."""
    new_session_id: str
    """The id a session made for this turn gets, known before it exists."""
    client_ref: str | None
    persona_id: str | None
    traits: dict[str, int]
    user_texts: tuple[str, ...]
    parent_id: str | None = None
    """The message the new user messages go under; None continues the active leaf."""
    reply_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    """The id the reply gets when it is recorded, known before the upstream call."""


@dataclass(frozen=True, slots=True)
class OpenAITurn:
    payload: dict[str, Any]
    reported_model: str
    upstream_model: str
    include_usage: bool
    plan: SessionPlan | None
    persona_slug: str | None = None
    prompt_estimate: int = 0
    meter: TurnMeter | None = None

    @property
    def announced_session_id(self) -> str | None:
        """The session id that can be told to the client before anything is written."""
        if self.plan is None or self.plan.client_ref is not None:
            return self.plan.session_id if self.plan else None
        return self.plan.session_id or self.plan.new_session_id


class OpenAIStream:
    """Upstream chunks as OpenAI clients expect them, with the requested model's name."""

    def __init__(self, turn: OpenAITurn, target: ReplyTarget, relay: ReplyRelay) -> None:
        self._turn = turn
        self._relay = relay
        self.session_id = target.session_id

    async def chunks(self) -> AsyncIterator[dict[str, Any]]:
        async for chunk in self._relay.chunks():
            body = {**chunk.raw, "model": self._turn.reported_model}
            usage_only = not body.get("choices")
            if usage_only and not self._turn.include_usage:
                continue
            yield body

    async def finish(self) -> None:
        await self._relay.finish()


@dataclass(frozen=True, slots=True)
class OpenAICompletion:
    body: dict[str, Any]
    session_id: str | None


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
        policy: KeyPolicy = KeyPolicy(),
        sees_every_persona: bool = False,
        meter: TurnMeter | None = None,
    ) -> OpenAITurn:
        """Check the model and the session and build the upstream call; writes nothing.

        `session_ref` is the `X-Session-Id` header (`new` starts a session); without it,
        `client_ref` (the `user` field, when the operator enables that) names a session
        of the owner's, made on first use.
        """
        resolved = await self._models.resolve()
        messages = request.upstream_messages()
        visible_to = None if sees_every_persona else owner
        async with self._database.session() as db:
            persona: PersonaRecord | None = None
            traits: dict[str, int] = {}
            if request.persona_slug is not None:
                persona = await self._persona_model(
                    db, request.model, request.persona_slug, visible_to
                )
                traits = self._personas.trait_levels(persona, request.traits or {})
                slots = self._personas.prompt_slots(persona, traits)
                messages = assemble_prompt(
                    slots, messages, context_tokens=resolved.max_model_len
                ).messages
                upstream_model = resolved.name
            else:
                if request.traits:
                    raise InvalidRequestError(
                        "'traits' apply to persona models (persona:<slug>)",
                        code="invalid_traits",
                        param="traits",
                    )
                upstream_model = (await self._models.resolve_named(request.model)).name
            require_allowed(
                policy, persona_slug=persona.slug if persona else None, model=upstream_model
            )
            plan = None
            if session_ref is not None or client_ref is not None:
                existing = await self._existing_session(db, owner, session_ref, client_ref)
                plan = SessionPlan(
                    owner=owner,
                    session_id=existing,
                    new_session_id=_new_session_id(session_ref),
                    client_ref=client_ref if session_ref is None else None,
                    persona_id=persona.id if persona else None,
                    traits={k: traits[k] for k in request.traits or {} if k in traits},
                    user_texts=tuple(new_user_texts(request.messages)),
                )
        return OpenAITurn(
            payload={**request.passthrough_fields(), "model": upstream_model, "messages": messages},
            reported_model=request.model,
            upstream_model=upstream_model,
            include_usage=request.include_usage,
            plan=plan,
            persona_slug=persona.slug if persona else None,
            prompt_estimate=estimate_prompt_tokens(messages),
            meter=meter,
        )

    async def complete(self, turn: OpenAITurn) -> OpenAICompletion:
        try:
            with counting_upstream_errors():
                completion = storable_completion(await self._upstream.complete(turn.payload))
        except asyncio.CancelledError:
            # The caller left while the upstream worked on an accepted request.
            with anyio.CancelScope(shield=True):
                target = await self._record_user_turn(turn)
                await record_unfinished(self._database, target, "interrupted")
            raise
        target = await self._record_user_turn(turn)
        await record_reply(
            self._database,
            target,
            content=completion.content,
            status="complete",
            usage=completion.usage,
            finish_reason=completion.finish_reason,
            tool_calls=completion_tool_calls(completion.raw),
        )
        body = {**completion.raw, "model": turn.reported_model}
        return OpenAICompletion(body=body, session_id=target.session_id)

    async def open_stream(self, turn: OpenAITurn) -> OpenAIStream:
        """Open the upstream stream; failures before its first byte raise here."""
        called_at = time.perf_counter()
        with counting_upstream_errors():
            upstream = await self._upstream.open_stream(turn.payload)
        try:
            target = await self._record_user_turn(turn)
        except BaseException:
            upstream.close()
            raise
        return OpenAIStream(
            turn, target, ReplyRelay(self._database, target, upstream, called_at=called_at)
        )

    async def _persona_model(
        self, db: AsyncSession, model: str, slug: str, visible_to: str | None
    ) -> PersonaRecord:
        try:
            return await self._personas.get(db, slug, visible_to=visible_to)
        except NotFoundError as exc:
            raise model_not_found(model) from exc

    async def _existing_session(
        self, db: AsyncSession, owner: str, session_ref: str | None, client_ref: str | None
    ) -> str | None:
        if session_ref == NEW_SESSION:
            return None
        if session_ref is not None:
            session_id = canonical_session_id(session_ref)
            session = await session_store.get_session(db, session_id=session_id, owner=owner)
            if session is not None:
                return session.id
            if await session_store.get_session(db, session_id=session_id, owner=None):
                raise SessionNotFoundError(session_ref)
            return None
        assert client_ref is not None
        found = await session_store.get_session_by_client_ref(
            db, owner=owner, client_ref=client_ref
        )
        return found.id if found else None

    async def _record_user_turn(self, turn: OpenAITurn) -> ReplyTarget:
        """Write the session (when new) and the user's new messages; where the reply goes."""
        plan = turn.plan
        if plan is None:
            return ReplyTarget(
                session_id=None, message_id=None, model=turn.upstream_model, meter=turn.meter
            )
        try:
            session_id, parent = await self._store_user_texts(plan, persona_id=plan.persona_id)
        except ConcurrentChangeError:
            # The persona was deleted elsewhere while remembered here: the reply it shaped
            # is recorded all the same, in a session no longer linked to it.
            self._personas.forget()
            session_id, parent = await self._store_user_texts(plan, persona_id=None)
        return ReplyTarget(
            session_id=session_id,
            message_id=plan.reply_id,
            model=turn.upstream_model,
            meter=turn.meter,
            parent_id=parent,
        )

    async def _store_user_texts(
        self, plan: SessionPlan, *, persona_id: str | None
    ) -> tuple[str, ParentChoice]:
        return await self._database.run(partial(store_user_texts, plan=plan, persona_id=persona_id))


def store_user_texts(
    conn: Connection, *, plan: SessionPlan, persona_id: str | None
) -> tuple[str, ParentChoice]:
    """Write the session (when new) and the user's new messages, in one unit of work;
    returns the session and the message the reply goes under: the last new user message
    (with none, the planned parent or the active leaf)."""
    session_id = _planned_session(conn, plan)
    if persona_id is not None:
        turn_rows.set_session_persona(conn, session_id=session_id, persona_id=persona_id)
    parent: ParentChoice = ACTIVE_LEAF if plan.parent_id is None else plan.parent_id
    for text in plan.user_texts:
        stored = turn_rows.append_message(
            conn,
            session_id=session_id,
            parent_id=parent,
            role="user",
            content=text,
            content_tokens=estimate_message_tokens(text),
        )
        parent = stored.id
    return session_id, parent


def _planned_session(conn: Connection, plan: SessionPlan) -> str:
    if plan.session_id is not None:
        if turn_rows.find_session(conn, session_id=plan.session_id, owner=plan.owner) is None:
            raise SessionNotFoundError(plan.session_id)  # deleted while the upstream answered
        return plan.session_id
    if plan.client_ref is not None:
        found = turn_rows.find_session_by_client_ref(
            conn, owner=plan.owner, client_ref=plan.client_ref
        )
        if found is not None:
            return found.id
    made = turn_rows.create_session_if_absent(
        conn,
        owner=plan.owner,
        persona_id=plan.persona_id,
        traits=plan.traits,
        title=session_title(plan.user_texts[0]) if plan.user_texts else None,
        client_ref=plan.client_ref,
        session_id=plan.new_session_id,
    )
    if made is not None:
        return made
    # A concurrent first request made it meanwhile (or another owner holds the id).
    found = (
        turn_rows.find_session_by_client_ref(conn, owner=plan.owner, client_ref=plan.client_ref)
        if plan.client_ref is not None
        else turn_rows.find_session(conn, session_id=plan.new_session_id, owner=plan.owner)
    )
    if found is None:
        raise SessionNotFoundError(plan.new_session_id)
    return found.id


def _new_session_id(session_ref: str | None) -> str:
    """The id a session made for this turn gets: the client's own UUID, else a new one."""
    if session_ref is None or session_ref == NEW_SESSION:
        return str(uuid.uuid4())
    return canonical_session_id(session_ref)


def new_user_texts(messages: Sequence[ChatMessage]) -> list[str]:
    """The user's new turn: the user messages after the last reply, oldest first."""
    texts: list[str] = []
    for message in reversed(messages):
        if message.role != "user":
            break
        texts.append(message.text())
    return texts[::-1]
