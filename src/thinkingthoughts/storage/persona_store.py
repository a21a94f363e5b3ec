"""Stored personas: the `personas` table's repository, in SQLAlchemy Core.

Functions run inside the caller's unit of work (`Database.transaction()`) and never
commit. A slug taken meanwhile by a concurrent writer surfaces as `SlugTakenError`, the
same error the registry raises when it sees the slug taken beforehand: nothing above
storage sees a database exception.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, Table, case, delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from thinkingthoughts.errors import SlugTakenError
from thinkingthoughts.storage.clock import utcnow
from thinkingthoughts.storage.models import Persona, new_id

PERSONAS: Table = Persona.__table__  # type: ignore[assignment] # declared, so a Table

ANY_OWNER = None
"""As `visible_to`: no restriction (admins see every persona)."""


class PersonaRow(NamedTuple):
    id: str
    slug: str
    name: str
    sheet: dict[str, Any]
    version: int
    owner: str | None
    created_at: datetime
    updated_at: datetime


_COLUMNS = [PERSONAS.c[name] for name in PersonaRow._fields]


async def create_persona(
    db: AsyncSession,
    *,
    slug: str,
    name: str,
    sheet: dict[str, Any],
    owner: str | None = None,
) -> PersonaRow:
    """Store a persona at version 1. A slug taken among the globals (`owner` None) or
    among that owner's own raises `SlugTakenError`."""
    now = utcnow()
    row = PersonaRow(new_id(), slug, name, sheet, 1, owner, now, now)
    async with _slug_guard(db, slug):
        await db.execute(insert(PERSONAS).values(row._asdict()))
    return row


def _visible(visible_to: str | None) -> list[ColumnElement[bool]]:
    """The WHERE criteria that hide other owners' private personas."""
    if visible_to is None:
        return []
    return [or_(PERSONAS.c.owner.is_(None), PERSONAS.c.owner == visible_to)]


def _preferred_slug_holder(visible_to: str | None) -> ColumnElement[int]:
    """Among personas sharing a slug: the caller's own private one first, then the
    global one; for admins (`ANY_OWNER`), the global one first."""
    owner = PERSONAS.c.owner
    if visible_to is None:
        return case((owner.is_(None), 0), else_=1)
    return case((owner == visible_to, 0), (owner.is_(None), 1), else_=2)


async def get_persona(
    db: AsyncSession, *, ref: str, visible_to: str | None = ANY_OWNER
) -> PersonaRow | None:
    """The persona whose id is `ref`, else the one whose slug is `ref` (one query);
    with `visible_to`, only a global one or one of that owner's. Where a slug names
    several, the owner's own wins, then the global one, then the oldest."""
    id_first = case((PERSONAS.c.id == ref, 0), else_=1)
    query = select(*_COLUMNS).where(
        or_(PERSONAS.c.id == ref, PERSONAS.c.slug == ref), *_visible(visible_to)
    )
    order = (id_first, _preferred_slug_holder(visible_to), PERSONAS.c.created_at, PERSONAS.c.id)
    found = (await db.execute(query.order_by(*order).limit(1))).first()
    return None if found is None else PersonaRow._make(found)


async def slug_in_use(
    db: AsyncSession, *, slug: str, owner: str | None, other_than: str | None = None
) -> bool:
    """Whether a persona of `owner` (None: a global one) may not take `slug`.

    A global slug must be free everywhere (admins see every persona, so saying so
    reveals nothing); a private one must be free among the globals and the owner's
    own, never compared with another owner's. `other_than`: the persona being renamed.
    """
    query = select(PERSONAS.c.id).where(PERSONAS.c.slug == slug, *_visible(owner))
    if other_than is not None:
        query = query.where(PERSONAS.c.id != other_than)
    return await db.scalar(query.limit(1)) is not None


async def list_personas(
    db: AsyncSession, *, visible_to: str | None = ANY_OWNER
) -> list[PersonaRow]:
    """Every persona (or every one `visible_to` may see), ordered by name (then slug)."""
    query = select(*_COLUMNS).where(*_visible(visible_to))
    rows = await db.execute(query.order_by(PERSONAS.c.name, PERSONAS.c.slug))
    return [PersonaRow._make(row) for row in rows]


async def update_persona(
    db: AsyncSession, *, persona_id: str, slug: str, name: str, sheet: dict[str, Any]
) -> PersonaRow:
    """Replace the persona's sheet and bump its version (in SQL, so two concurrent
    updates get two versions). Raises `SlugTakenError` when the new slug was taken
    meanwhile."""
    statement = (
        update(PERSONAS)
        .where(PERSONAS.c.id == persona_id)
        .values(
            slug=slug, name=name, sheet=sheet, version=PERSONAS.c.version + 1, updated_at=utcnow()
        )
        .returning(*_COLUMNS)
    )
    async with _slug_guard(db, slug):
        return PersonaRow._make((await db.execute(statement)).one())


async def delete_persona(db: AsyncSession, *, persona_id: str) -> None:
    """Delete the persona; its sessions keep their messages and lose the reference."""
    await db.execute(delete(PERSONAS).where(PERSONAS.c.id == persona_id))


async def slugs_taken(db: AsyncSession) -> set[str]:
    """Every slug in use."""
    return set(await db.scalars(select(PERSONAS.c.slug)))


async def count_personas(db: AsyncSession) -> int:
    return await db.scalar(select(func.count()).select_from(PERSONAS)) or 0


@asynccontextmanager
async def _slug_guard(db: AsyncSession, slug: str) -> AsyncIterator[None]:
    """A savepoint around one write: a unique-slug violation becomes `SlugTakenError`
    and leaves the caller's transaction usable."""
    try:
        async with db.begin_nested():
            yield
    except IntegrityError as exc:
        raise SlugTakenError(slug) from exc
