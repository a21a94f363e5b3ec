"""One chat turn: store the user's words, build the context, call upstream, store the reply."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncGenerator, Sequence
from functools import partial
from typing import Any

from thinkingthoughts.access.key_policy import KeyPolicy
from thinkingthoughts.context.assembler import assemble_prompt, post_history_tokens, system_text
from thinkingthoughts.context.budget import (
    ContextBudget,
    fits,
    reply_tokens_within,
)
from thinkingthoughts.context.eviction import window_length
from thinkingthoughts.context.tokens import estimate_message_tokens, estimate_prompt_tokens
from thinkingthoughts.engine.persist import StoredTurn, TurnWrite, planned_prompt, store_turn
from thinkingthoughts.engine.record import (
    ReplyRelay,
    record_reply,
    recorded_if_unanswered,
    storable_completion,
)
from thinkingthoughts.engine.session_ids import canonical_session_id
from thinkingthoughts.engine.turn import (
    PreparedTurn,
    StreamDelta,
    StreamEvent,
    StreamFinished,
    StreamStarted,
    TurnMessage,
    TurnRequest,
    TurnResult,
)
from thinkingthoughts.errors import (
    ConcurrentChangeError,
    ContextOverflowError,
    PermissionDeniedError,
    SessionNotFoundError,
)
from thinkingthoughts.personas.registry import PersonaRecord, PersonaRegistry
from thinkingthoughts.storage import turn_rows
from thinkingthoughts.storage.database import Database
from thinkingthoughts.upstream.client import UpstreamClient
from thinkingthoughts.upstream.models import ModelResolver, ResolvedModel

EXACT_COUNT_THRESHOLD = 0.25
"""Share of the budget above which an estimated prompt is counted exactly upstream.

A byte-level tokenizer spends at most one token per byte: three per estimated token of
ASCII text, four for a four-byte character counted as one. Below a quarter of the
budget, no text can overflow it, so short conversations cost no extra round trip."""
EXACT_COUNT_ROUNDS = 4


class ChatService:
    """Orchestrates a turn; pure parts live in `context` and the persona compiler."""

    def __init__(
        self,
        *,
        database: Database,
        upstream: UpstreamClient,
        models: ModelResolver,
        personas: PersonaRegistry,
        default_max_tokens: int,
    ) -> None:
        self._database = database
        self._upstream = upstream
        self._models = models
        self._personas = personas
        self._default_max_tokens = default_max_tokens

    async def prepare(self, request: TurnRequest) -> PreparedTurn:
        """Validate, store the user's turn and assemble what goes upstream.

        Everything that can refuse the request (unknown session or persona, bad traits,
        a message too long for the model) happens before anything is written.
        """
        try:
            return await self._prepare_once(request)
        except ConcurrentChangeError:
            # A persona another replica deleted may still be remembered here; nothing
            # was stored, so look again and try once more.
            self._personas.forget()
            return await self._prepare_once(request)

    async def _prepare_once(self, request: TurnRequest) -> PreparedTurn:
        try:
            return await self._prepare(request, newest_checked=False)
        except _NeedsExactCount as check:
            # Counted upstream outside the transaction: on SQLite it holds the writers' turn.
            await self._require_newest_fits(check.system_prompt, check.newest, check.budget,
                                            check.model)  # fmt: skip
            return await self._prepare(request, newest_checked=True)

    async def _prepare(self, request: TurnRequest, *, newest_checked: bool) -> PreparedTurn:
        model = await self._models.resolve_named(request.model)
        session = await self._stored_session(request)
        persona_ref = request.persona_ref or (session.persona_id if session else None)
        async with self._database.session() as db:  # reads only on a cache miss
            persona = await self._personas.get_or_default(
                db, persona_ref, visible_to=None if request.sees_every_persona else request.owner
            )
        require_allowed(request.policy, persona_slug=persona.slug, model=model.name)
        # Levels of dimensions an operator has since removed from the catalog are dropped.
        stored_traits = {
            k: v
            for k, v in (session.traits if session else {}).items()
            if k in self._personas.catalog
        }
        requested = {**stored_traits, **request.traits}
        levels = self._personas.trait_levels(persona, requested)
        slots = self._personas.prompt_slots(persona, levels)
        system_prompt = system_text(slots, context_tokens=model.max_model_len)
        max_tokens = reply_tokens_within(
            request.max_tokens or self._default_max_tokens,
            max_model_len=model.max_model_len,
            smallest_prompt=estimate_message_tokens(system_prompt)
            + (0 if request.regenerate else estimate_message_tokens(request.messages[-1].content)),
        )
        budget = ContextBudget(model.max_model_len, max_tokens).prompt_tokens
        if not request.regenerate:
            newest = request.messages[-1]
            if not newest_checked and not _fits_by_estimate(system_prompt, newest, budget):
                raise _NeedsExactCount(system_prompt, newest, budget, model)

        stored: StoredTurn | None = None
        if request.stateless:
            history = _fit_messages(
                system_prompt, request.messages, budget - post_history_tokens(slots)
            )
        else:
            write = TurnWrite(
                owner=request.owner,
                session=session,
                persona_id=persona.id,
                greeting=persona.sheet.greeting,
                traits={k: levels[k] for k in requested if k in levels},
                messages=request.messages,
                regenerate=request.regenerate,
                system_prompt=system_prompt,
                budget=budget - post_history_tokens(slots),
                parent_id=request.parent_id,
                new_session_id=(
                    canonical_session_id(request.session_id)
                    if session is None and request.session_id is not None
                    else None
                ),
            )
            if request.meter is not None and request.meter.limits_tokens:
                # Reserved before anything is written: a refused turn stores nothing.
                planned = await self._database.run(partial(planned_prompt, write=write))
                await request.meter.reserve(
                    prompt_tokens=estimate_prompt_tokens(planned), reply_tokens=max_tokens
                )
            stored = await self._database.run(partial(store_turn, write=write))
            history = stored.history
        assembled = assemble_prompt(slots, history, context_tokens=model.max_model_len)
        upstream_messages = await self._trim_to_exact_count(assembled.messages, budget, model)
        return self._prepared(stored, persona, model, upstream_messages, max_tokens, request)

    async def complete(self, turn: PreparedTurn) -> TurnResult:
        """The whole reply; cancelling this (the caller went away) closes the upstream
        request and records the reply as interrupted."""
        target = turn.reply_target
        async with recorded_if_unanswered(self._database, target):
            completion = storable_completion(await self._upstream.complete(turn.upstream_payload()))
        await record_reply(
            self._database,
            target,
            content=completion.content,
            status="complete",
            usage=completion.usage,
            finish_reason=completion.finish_reason,
        )
        return TurnResult(
            content=completion.content,
            session_id=turn.session_id,
            message_id=turn.assistant_message_id,
            persona_slug=turn.persona_slug,
            model=turn.model,
            finish_reason=completion.finish_reason,
            usage=completion.usage,
            user_message_id=turn.user_message_id,
            parent_id=turn.reply_parent_id,
        )

    async def stream(self, turn: PreparedTurn) -> AsyncGenerator[StreamEvent, None]:
        """Relay the reply as it arrives; whatever happens, store what was relayed.

        The upstream request is opened before the first event, so an upstream that is
        down or refuses still surfaces as an error the caller can turn into a status.
        """
        target = turn.reply_target
        called_at = time.perf_counter()
        async with recorded_if_unanswered(self._database, target):
            upstream = await self._upstream.open_stream(turn.upstream_payload())
        relay = ReplyRelay(self._database, target, upstream, called_at=called_at)
        try:
            yield StreamStarted(
                session_id=turn.session_id,
                message_id=turn.assistant_message_id,
                persona_slug=turn.persona_slug,
                model=turn.model,
                user_message_id=turn.user_message_id,
                parent_id=turn.reply_parent_id,
            )
            async for chunk in relay.chunks():
                if chunk.content:
                    yield StreamDelta(chunk.content)
        finally:
            await relay.finish()
        yield StreamFinished(
            message_id=turn.assistant_message_id,
            finish_reason=relay.finish_reason,
            usage=relay.usage,
        )

    async def _stored_session(self, request: TurnRequest) -> turn_rows.SessionRow | None:
        """The caller's session the turn names; None for a new one (no id, or a client's
        own id no session has yet, which the new session takes)."""
        if request.session_id is None:
            return None
        session_id = canonical_session_id(request.session_id)
        session = await self._database.run(
            partial(turn_rows.find_session, session_id=session_id, owner=request.owner)
        )
        if session is not None:
            return session
        if not request.regenerate and not await self._database.run(
            partial(turn_rows.session_exists, session_id=session_id)
        ):
            return None
        raise SessionNotFoundError(request.session_id)

    async def _require_newest_fits(
        self, system_prompt: str, newest: TurnMessage, budget: int, model: ResolvedModel
    ) -> None:
        fixed = estimate_message_tokens(system_prompt)
        required = estimate_message_tokens(newest.content)
        exact = await self._upstream.count_prompt_tokens(
            model=model.name,
            messages=[
                {"role": "system", "content": system_prompt},
                {"role": newest.role, "content": newest.content},
            ],
        )
        if exact is not None and exact <= budget:
            return
        raise ContextOverflowError(
            f"the message is too long for the model: about {fixed + required} tokens "
            f"with the persona's prompt, and {budget} fit beside the reply "
            f"({model.max_model_len} in the model's context, "
            f"{model.max_model_len - budget} kept for the reply)"
        )

    async def _trim_to_exact_count(
        self, messages: list[dict[str, Any]], budget: int, model: ResolvedModel
    ) -> list[dict[str, Any]]:
        """Where the estimate comes close to the budget, count exactly and drop the oldest.

        The estimate errs high for prose but can err low for unusual text (long runs of
        punctuation, code); the upstream's own tokenizer settles it when it has one.
        """
        estimated = sum(estimate_message_tokens(str(m["content"])) for m in messages)
        if estimated <= budget * EXACT_COUNT_THRESHOLD:
            return messages
        for _ in range(EXACT_COUNT_ROUNDS):
            exact = await self._upstream.count_prompt_tokens(model=model.name, messages=messages)
            if exact is None or exact <= budget or len(messages) <= 2:
                return messages
            messages = _drop_oldest_history(messages, exact - budget)
        return messages

    def _prepared(
        self,
        stored: StoredTurn | None,
        persona: PersonaRecord,
        model: ResolvedModel,
        upstream_messages: list[dict[str, Any]],
        max_tokens: int,
        request: TurnRequest,
    ) -> PreparedTurn:
        return PreparedTurn(
            session_id=stored.session_id if stored else None,
            persona_id=persona.id,
            persona_slug=persona.slug,
            assistant_message_id=str(uuid.uuid4()) if stored else None,
            model=model.name,
            upstream_messages=upstream_messages,
            max_tokens=max_tokens,
            sampling=dict(request.sampling),
            history_sent=len(upstream_messages) - 1,
            prompt_estimate=estimate_prompt_tokens(upstream_messages),
            meter=request.meter,
            user_message_id=stored.user_message_id if stored else None,
            reply_parent_id=stored.reply_parent_id if stored else None,
        )


def require_allowed(policy: KeyPolicy, *, persona_slug: str | None, model: str) -> None:
    """Refuse a turn with a persona or upstream model outside the key's allow-lists."""
    if persona_slug is not None and not policy.allows_persona(persona_slug):
        raise PermissionDeniedError(
            f"this key may not use persona '{persona_slug}'", code="persona_not_allowed"
        )
    if not policy.allows_model(model):
        raise PermissionDeniedError(
            f"this key may not use model '{model}'", code="model_not_allowed"
        )


def _drop_oldest_history(messages: list[dict[str, Any]], excess: int) -> list[dict[str, Any]]:
    """Drop history after the system prompt until about `excess` tokens are gone.

    The newest message always stays: it is what the turn is about.
    """
    dropped, removed = 1, 0
    while dropped < len(messages) - 1 and removed < excess:
        removed += estimate_message_tokens(str(messages[dropped]["content"]))
        dropped += 1
    return [messages[0], *messages[dropped:]]


def _fit_messages(
    system_prompt: str, messages: Sequence[TurnMessage], budget: int
) -> list[dict[str, Any]]:
    """A client's own history, evicted in chunks as a stored one is (`context.eviction`)."""
    sizes = [estimate_message_tokens(m.content) for m in messages]
    keep = window_length(sizes, room=budget - estimate_message_tokens(system_prompt))
    return [{"role": m.role, "content": m.content} for m in messages[len(messages) - keep :]]


class _NeedsExactCount(Exception):  # noqa: N818 - a signal, not an error
    """The newest message may not fit by estimate: count it upstream, then prepare again."""

    def __init__(
        self, system_prompt: str, newest: TurnMessage, budget: int, model: ResolvedModel
    ) -> None:
        super().__init__("count exactly")
        self.system_prompt = system_prompt
        self.newest = newest
        self.budget = budget
        self.model = model


def _fits_by_estimate(system_prompt: str, newest: TurnMessage, budget: int) -> bool:
    return fits(
        fixed_tokens=estimate_message_tokens(system_prompt),
        required_tokens=estimate_message_tokens(newest.content),
        budget=budget,
    )
