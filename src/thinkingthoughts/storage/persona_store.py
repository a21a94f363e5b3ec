"""Stored personas. Functions flush and never commit: the caller owns the transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from thinkingthoughts.storage.clock import utcnow
from thinkingthoughts.storage.models import Persona


async def create_persona(
    db: AsyncSession,
    *,
    slug: str,
    name: str,
    sheet: dict[str, Any],
    owner: str | None = None,
) -> Persona:
    """Store a persona at version 1; a slug taken among the globals (`owner` None) or
    among that owner's own raises `IntegrityError` on flush."""
    now = utcnow()
    persona = Persona(
        slug=slug, name=name, sheet=sheet, owner=owner, version=1, created_at=now, updated_at=now
    )
    db.add(persona)
    await db.flush()
    return persona


ANY_OWNER = None
"""As `visible_to`: no restriction (admins see every persona)."""


def _visible(visible_to: str | None) -> list[ColumnElement[bool]]:
    """The WHERE criteria that hide other owners' private personas."""
    if visible_to is None:
        return []
    return [or_(Persona.owner.is_(None), Persona.owner == visible_to)]


def _preferred_slug_holder(visible_to: str | None) -> ColumnElement[int]:
    """Among personas sharing a slug: the caller's own private one first, then the
    global one; for admins (`ANY_OWNER`), the global one first."""
    if visible_to is None:
        return case((Persona.owner.is_(None), 0), else_=1)
    return case((Persona.owner == visible_to, 0), (Persona.owner.is_(None), 1), else_=2)


async def get_persona(
    db: AsyncSession, *, ref: str, visible_to: str | None = ANY_OWNER
) -> Persona | None:
    """The persona whose id is `ref`, else the one whose slug is `ref` (one query);
    with `visible_to`, only a global one or one of that owner's. Where a slug names
    several, the owner's own wins, then the global one, then the oldest."""
    id_first = case((Persona.id == ref, 0), else_=1)
    query = select(Persona).where(
        or_(Persona.id == ref, Persona.slug == ref), *_visible(visible_to)
    )
    order = (id_first, _preferred_slug_holder(visible_to), Persona.created_at, Persona.id)
    return await db.scalar(query.order_by(*order).limit(1))


async def slug_in_use(
    db: AsyncSession, *, slug: str, owner: str | None, other_than: str | None = None
) -> bool:
    """Whether a persona of `owner` (None: a global one) may not take `slug`.

    A global slug must be free everywhere (admins see every persona, so saying so
    reveals nothing); a private one must be free among the globals and the owner's
    own, never compared with another owner's. `other_than`: the persona being renamed.
    """
    query = select(Persona.id).where(Persona.slug == slug, *_visible(owner))
    if other_than is not None:
        query = query.where(Persona.id != other_than)
    return await db.scalar(query.limit(1)) is not None


async def list_personas(db: AsyncSession, *, visible_to: str | None = ANY_OWNER) -> list[Persona]:
    """Every persona (or every one `visible_to` may see), ordered by name (then slug)."""
    query = select(Persona).where(*_visible(visible_to))
    rows = await db.scalars(query.order_by(Persona.name, Persona.slug))
    return list(rows)


async def update_persona(
    db: AsyncSession, *, persona: Persona, slug: str, name: str, sheet: dict[str, Any]
) -> Persona:
    """Replace the persona's sheet and bump its version (atomically, in SQL)."""
    persona.slug = slug
    persona.name = name
    persona.sheet = sheet
    # Incremented by the database, so two concurrent updates get two versions.
    persona.version = Persona.version + 1
    persona.updated_at = utcnow()
    await db.flush()
    await db.refresh(persona, attribute_names=["version"])
    return persona


async def delete_persona(db: AsyncSession, *, persona: Persona) -> None:
    """Delete the persona; its sessions keep their messages and lose the reference."""
    await db.delete(persona)
    await db.flush()


async def slugs_taken(db: AsyncSession) -> set[str]:
    """Every slug in use."""
    return set(await db.scalars(select(Persona.slug)))


async def count_personas(db: AsyncSession) -> int:
    return await db.scalar(select(func.count()).select_from(Persona)) or 0
