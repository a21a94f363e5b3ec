"""Stored API keys, found by the SHA-256 of their secret: the `api_keys` table's
repository, in SQLAlchemy Core. Functions run inside the caller's unit of work
(`Database.transaction()`) and never commit."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Table, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from thinkingthoughts.storage.clock import utcnow
from thinkingthoughts.storage.models import ApiKey, new_id

API_KEYS: Table = ApiKey.__table__  # type: ignore[assignment] # declared, so a Table


class KeyRow(NamedTuple):
    id: str
    name: str
    prefix: str
    secret_hash: str
    scopes: list[str]
    owner: str
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None
    revoked_at: datetime | None
    requests_per_minute: int | None
    tokens_per_minute: int | None
    concurrent_streams: int | None
    allowed_personas: list[str] | None
    allowed_models: list[str] | None


POLICY_COLUMNS = (
    "requests_per_minute",
    "tokens_per_minute",
    "concurrent_streams",
    "allowed_personas",
    "allowed_models",
)
"""The columns a key's policy (limits and allow-lists) is stored in."""

_COLUMNS = [API_KEYS.c[name] for name in KeyRow._fields]


async def create_api_key(
    db: AsyncSession,
    *,
    name: str,
    prefix: str,
    secret_hash: str,
    scopes: Sequence[str],
    owner: str,
    expires_at: datetime | None = None,
    policy: Mapping[str, Any] | None = None,
) -> KeyRow:
    """Store a new key; `policy` holds values for POLICY_COLUMNS (default: none set)."""
    limits = {column: (policy or {}).get(column) for column in POLICY_COLUMNS}
    row = KeyRow(
        id=new_id(),
        name=name,
        prefix=prefix,
        secret_hash=secret_hash,
        scopes=list(scopes),
        owner=owner,
        created_at=utcnow(),
        last_used_at=None,
        expires_at=expires_at,
        revoked_at=None,
        **limits,
    )
    await db.execute(insert(API_KEYS).values(row._asdict()))
    return row


async def _one(db: AsyncSession, *criteria: Any) -> KeyRow | None:
    found = (await db.execute(select(*_COLUMNS).where(*criteria))).first()
    return None if found is None else KeyRow._make(found)


async def find_api_key_by_hash(db: AsyncSession, *, secret_hash: str) -> KeyRow | None:
    """The key with this secret hash, revoked and expired ones included: the caller decides."""
    return await _one(db, API_KEYS.c.secret_hash == secret_hash)


async def get_api_key(db: AsyncSession, *, key_id: str) -> KeyRow | None:
    return await _one(db, API_KEYS.c.id == key_id)


async def find_api_keys_by_prefix(db: AsyncSession, *, prefix: str) -> list[KeyRow]:
    """Keys whose visible prefix is `prefix` (several only by a rare collision)."""
    rows = await db.execute(select(*_COLUMNS).where(API_KEYS.c.prefix == prefix).limit(2))
    return [KeyRow._make(row) for row in rows]


async def list_api_keys(db: AsyncSession) -> list[KeyRow]:
    """Every key, oldest first."""
    rows = await db.execute(select(*_COLUMNS).order_by(API_KEYS.c.created_at, API_KEYS.c.id))
    return [KeyRow._make(row) for row in rows]


async def count_api_keys(db: AsyncSession) -> int:
    return await db.scalar(select(func.count()).select_from(API_KEYS)) or 0


async def mark_api_key_used(db: AsyncSession, *, key_id: str, at: datetime) -> None:
    """Record when the key was last used (one UPDATE, no read)."""
    await db.execute(update(API_KEYS).where(API_KEYS.c.id == key_id).values(last_used_at=at))


async def update_api_key(db: AsyncSession, *, key_id: str, changes: Mapping[str, Any]) -> KeyRow:
    """Set `changes` (the name and POLICY_COLUMNS) on the key; returns it as stored."""
    statement = (
        update(API_KEYS).where(API_KEYS.c.id == key_id).values(dict(changes)).returning(*_COLUMNS)
    )
    return KeyRow._make((await db.execute(statement)).one())


async def revoke_api_key(db: AsyncSession, *, key_id: str, at: datetime) -> KeyRow:
    """Mark the key revoked from `at` on; revoking twice keeps the first date."""
    await db.execute(
        update(API_KEYS)
        .where(API_KEYS.c.id == key_id, API_KEYS.c.revoked_at.is_(None))
        .values(revoked_at=at)
    )
    row = await get_api_key(db, key_id=key_id)
    assert row is not None, "a key being revoked exists in this transaction"
    return row
