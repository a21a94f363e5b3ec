"""The models a key may use, as `/v1/models` lists and retrieves them.

Upstream models are relayed as the upstream lists them, every field kept (vLLM's
`max_model_len`, `root`, `parent`, `permission`, ...): clients read the context length
there. A persona model (`persona:<slug>`) runs on the configured upstream model, so its
card names that model as `root` and `parent` and carries its context length; none is
offered to a key that may not use that model. A model the key may not use is answered
exactly like a missing one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from thinkingthoughts.access.key_policy import KeyPolicy
from thinkingthoughts.errors import NotFoundError
from thinkingthoughts.openai_api.protocol import PERSONA_MODEL_PREFIX
from thinkingthoughts.personas.registry import PersonaRecord, PersonaRegistry
from thinkingthoughts.upstream.client import UpstreamClient
from thinkingthoughts.upstream.models import ModelResolver, ResolvedModel, model_not_found

PERSONA_OWNER = "thinkingthoughts"


def persona_card(model_id: str, persona: PersonaRecord, runs_on: ResolvedModel) -> dict[str, Any]:
    """A persona model as an OpenAI model object, with vLLM's extra fields."""
    return {
        "id": model_id,
        "object": "model",
        "created": int(persona.created_at.timestamp()),
        "owned_by": PERSONA_OWNER,
        "root": runs_on.name,
        "parent": runs_on.name,
        "max_model_len": runs_on.max_model_len,
    }


def one_per_slug(personas: Sequence[PersonaRecord]) -> list[PersonaRecord]:
    """The persona `persona:<slug>` names for each slug: an admin sees every owner's
    private personas, several of which may share a slug, and the name resolves to the
    global one, else the oldest (the others are reached by id on the native API)."""
    chosen: dict[str, PersonaRecord] = {}
    for persona in sorted(personas, key=lambda p: (p.owner is not None, p.created_at, p.id)):
        chosen.setdefault(persona.slug, persona)
    return [p for p in personas if chosen[p.slug] is p]


class ModelCatalog:
    def __init__(
        self, *, upstream: UpstreamClient, models: ModelResolver, personas: PersonaRegistry
    ) -> None:
        self._upstream = upstream
        self._models = models
        self._personas = personas

    async def list(
        self, db: AsyncSession, *, policy: KeyPolicy, visible_to: str | None
    ) -> list[dict[str, Any]]:
        """The upstream's models, then one model per persona: those the key may use."""
        cards = [m.entry for m in await self._upstream.list_models() if policy.allows_model(m.id)]
        configured = await self._models.resolve()
        if policy.allows_model(configured.name):
            personas = await self._personas.list(db, visible_to=visible_to)
            cards += [
                persona_card(PERSONA_MODEL_PREFIX + p.slug, p, configured)
                for p in one_per_slug(personas)
                if policy.allows_persona(p.slug)
            ]
        return cards

    async def retrieve(
        self, db: AsyncSession, model_id: str, *, policy: KeyPolicy, visible_to: str | None
    ) -> dict[str, Any]:
        """One model the key may use, or 404 `model_not_found`."""
        if model_id.startswith(PERSONA_MODEL_PREFIX):
            slug = model_id.removeprefix(PERSONA_MODEL_PREFIX)
            try:
                persona = await self._personas.get(db, slug, visible_to=visible_to)
            except NotFoundError as exc:
                raise model_not_found(model_id) from exc
            configured = await self._models.resolve()
            if not (policy.allows_persona(persona.slug) and policy.allows_model(configured.name)):
                raise model_not_found(model_id)
            return persona_card(model_id, persona, configured)
        for listed in await self._upstream.list_models():
            if listed.id == model_id and policy.allows_model(listed.id):
                return listed.entry
        raise model_not_found(model_id)
