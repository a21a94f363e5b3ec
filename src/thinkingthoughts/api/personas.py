"""Personas: CRUD by id or slug, and the compiled-prompt preview for prompt engineering."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Body, status
from pydantic import BaseModel, Field

from thinkingthoughts.api.deps import AdminPrincipal, DbSession, ReadPrincipal, Resources
from thinkingthoughts.chat.context import estimate_tokens
from thinkingthoughts.personas.registry import PersonaRecord
from thinkingthoughts.personas.sheet import PersonaSheet

router = APIRouter(prefix="/api/personas", tags=["personas"])


class PersonaOut(PersonaSheet):
    id: str
    version: int
    created_at: datetime
    updated_at: datetime


class PersonaList(BaseModel):
    data: list[PersonaOut]


class PreviewRequest(BaseModel):
    traits: dict[str, object] = Field(default_factory=dict)


class PreviewOut(BaseModel):
    persona: str
    traits: dict[str, int]
    system_prompt: str
    estimated_tokens: int


def persona_out(record: PersonaRecord) -> PersonaOut:
    return PersonaOut(
        **record.sheet.model_dump(),
        id=record.id,
        version=record.version,
        created_at=record.created_at,
        updated_at=record.updated_at,
    )


@router.get("")
async def list_personas(_: ReadPrincipal, resources: Resources, db: DbSession) -> PersonaList:
    return PersonaList(data=[persona_out(p) for p in await resources.personas.list(db)])


@router.get("/{ref}")
async def read_persona(
    ref: str, _: ReadPrincipal, resources: Resources, db: DbSession
) -> PersonaOut:
    return persona_out(await resources.personas.get(db, ref))


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_persona(
    sheet: PersonaSheet, _: AdminPrincipal, resources: Resources, db: DbSession
) -> PersonaOut:
    async with db.begin():
        record = await resources.personas.create(db, sheet)
    return persona_out(record)


@router.put("/{ref}")
async def replace_persona(
    ref: str, sheet: PersonaSheet, _: AdminPrincipal, resources: Resources, db: DbSession
) -> PersonaOut:
    async with db.begin():
        record = await resources.personas.update(db, ref, sheet.model_dump())
    return persona_out(record)


@router.patch("/{ref}")
async def update_persona(
    ref: str,
    changes: dict[str, Any],
    _: AdminPrincipal,
    resources: Resources,
    db: DbSession,
) -> PersonaOut:
    """A merge patch: the fields sent replace the stored ones; the result must be valid."""
    async with db.begin():
        record = await resources.personas.update(db, ref, changes)
    return persona_out(record)


@router.delete("/{ref}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_persona(ref: str, _: AdminPrincipal, resources: Resources, db: DbSession) -> None:
    async with db.begin():
        await resources.personas.delete(db, ref)


@router.post("/{ref}/preview")
async def preview_prompt(
    ref: str,
    _: ReadPrincipal,
    resources: Resources,
    db: DbSession,
    body: PreviewRequest | None = Body(default=None),
) -> PreviewOut:
    persona = await resources.personas.get(db, ref)
    levels = resources.personas.trait_levels(persona, body.traits if body else {})
    prompt = resources.personas.system_prompt(persona, levels)
    return PreviewOut(
        persona=persona.slug,
        traits=levels,
        system_prompt=prompt,
        estimated_tokens=estimate_tokens(prompt),
    )
