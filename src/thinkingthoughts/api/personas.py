"""Personas: CRUD by id or slug, and the compiled-prompt preview for prompt engineering.

Admin keys manage the global personas every key sees. A chat key's personas are private
to its owner: other owners get 404 for them, exactly as for a persona that does not exist.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Body, status
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession

from thinkingthoughts.access.principal import Principal
from thinkingthoughts.api.deps import ChatPrincipal, DbSession, ReadPrincipal, Resources
from thinkingthoughts.context.tokens import estimate_tokens
from thinkingthoughts.errors import NotFoundError
from thinkingthoughts.personas.registry import PersonaRecord
from thinkingthoughts.personas.sheet import PersonaPatch, PersonaSheet, RequestedTraits
from thinkingthoughts.resources import GatewayResources
from thinkingthoughts.value_rules import AcceptableText, ClientModel

router = APIRouter(prefix="/api/personas", tags=["personas"])


class PersonaOut(PersonaSheet):
    id: str
    version: int
    private: bool
    created_at: datetime
    updated_at: datetime


class PersonaList(BaseModel):
    data: list[PersonaOut]
    default: str | None = None
    """The slug of the persona a request that names none gets, when it is in `data`."""


class PreviewRequest(ClientModel):
    traits: RequestedTraits = Field(default_factory=dict)


class PreviewOut(BaseModel):
    persona: str
    traits: dict[str, int]
    system_prompt: str
    estimated_tokens: int


async def _allowed_persona(
    resources: GatewayResources, principal: Principal, db: AsyncSession, ref: str
) -> PersonaRecord:
    """A persona the key can see and may use; any other answers 404, as a missing one."""
    record = await resources.personas.get(db, ref, visible_to=principal.persona_owner)
    if not principal.policy.allows_persona(record.slug):
        raise NotFoundError(f"no persona '{ref}'", code="persona_not_found")
    return record


def persona_out(record: PersonaRecord) -> PersonaOut:
    return PersonaOut(
        **record.sheet.model_dump(),
        id=record.id,
        version=record.version,
        private=record.owner is not None,
        created_at=record.created_at,
        updated_at=record.updated_at,
    )


@router.get("")
async def list_personas(
    principal: ReadPrincipal, resources: Resources, db: DbSession
) -> PersonaList:
    """The personas this key can see; with an allow-list, only the allowed ones."""
    records = await resources.personas.list(db, visible_to=principal.persona_owner)
    allowed = [p for p in records if principal.policy.allows_persona(p.slug)]
    default = resources.personas.default_among(allowed)
    return PersonaList(
        data=[persona_out(p) for p in allowed], default=default.slug if default else None
    )


@router.get("/{ref}")
async def read_persona(
    ref: AcceptableText, principal: ReadPrincipal, resources: Resources, db: DbSession
) -> PersonaOut:
    return persona_out(await _allowed_persona(resources, principal, db, ref))


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_persona(
    sheet: PersonaSheet, principal: ChatPrincipal, resources: Resources
) -> PersonaOut:
    """A global persona when an admin key makes it; else one private to the key's owner."""
    async with resources.database.transaction() as db:
        record = await resources.personas.create(db, sheet, owner=principal.persona_owner)
    resources.personas.forget()  # again once committed: no request re-read the old state
    return persona_out(record)


@router.put("/{ref}")
async def replace_persona(
    ref: AcceptableText,
    sheet: PersonaSheet,
    principal: ChatPrincipal,
    resources: Resources,
) -> PersonaOut:
    async with resources.database.transaction() as db:
        record = await resources.personas.update(
            db, ref, sheet.model_dump(), editor=principal.persona_owner
        )
    resources.personas.forget()
    return persona_out(record)


@router.patch("/{ref}")
async def update_persona(
    ref: AcceptableText,
    changes: PersonaPatch,
    principal: ChatPrincipal,
    resources: Resources,
) -> PersonaOut:
    """A merge patch: the fields sent replace the stored ones; the result must be valid."""
    sent = changes.model_dump(exclude_unset=True)
    async with resources.database.transaction() as db:
        record = await resources.personas.update(db, ref, sent, editor=principal.persona_owner)
    resources.personas.forget()
    return persona_out(record)


@router.delete("/{ref}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_persona(
    ref: AcceptableText, principal: ChatPrincipal, resources: Resources
) -> None:
    async with resources.database.transaction() as db:
        await resources.personas.delete(db, ref, editor=principal.persona_owner)
    resources.personas.forget()


@router.post("/{ref}/preview")
async def preview_prompt(
    ref: AcceptableText,
    principal: ReadPrincipal,
    resources: Resources,
    db: DbSession,
    body: PreviewRequest | None = Body(default=None),
) -> PreviewOut:
    persona = await _allowed_persona(resources, principal, db, ref)
    levels = resources.personas.trait_levels(persona, body.traits if body else {})
    prompt = resources.personas.system_prompt(persona, levels)
    return PreviewOut(
        persona=persona.slug,
        traits=levels,
        system_prompt=prompt,
        estimated_tokens=estimate_tokens(prompt),
    )
