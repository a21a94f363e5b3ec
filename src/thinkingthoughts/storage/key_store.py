"""Stored API keys, found by the SHA-256 of their secret. Functions flush, never commit."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from thinkingthoughts.storage.clock import utcnow
from thinkingthoughts.storage.models import ApiKey


async def create_api_key(
    db: AsyncSession,
    *,
    name: str,
    prefix: str,
    secret_hash: str,
    scopes: Sequence[str],
    owner: str,
    expires_at: datetime | None = None,
) -> ApiKey:
    key = ApiKey(
        name=name,
        prefix=prefix,
        secret_hash=secret_hash,
        scopes=list(scopes),
        owner=owner,
        created_at=utcnow(),
        expires_at=expires_at,
    )
    db.add(key)
    await db.flush()
    return key


async def find_api_key_by_hash(db: AsyncSession, *, secret_hash: str) -> ApiKey | None:
    """The key with this secret hash, revoked and expired ones included: the caller decides."""
    return await db.scalar(select(ApiKey).where(ApiKey.secret_hash == secret_hash))


async def get_api_key(db: AsyncSession, *, key_id: str) -> ApiKey | None:
    return await db.get(ApiKey, key_id)


async def find_api_keys_by_prefix(db: AsyncSession, *, prefix: str) -> list[ApiKey]:
    """Keys whose visible prefix is `prefix` (several only by a rare collision)."""
    return list(await db.scalars(select(ApiKey).where(ApiKey.prefix == prefix).limit(2)))


async def list_api_keys(db: AsyncSession) -> list[ApiKey]:
    """Every key, oldest first."""
    rows = await db.scalars(select(ApiKey).order_by(ApiKey.created_at, ApiKey.id))
    return list(rows)


async def count_api_keys(db: AsyncSession) -> int:
    return await db.scalar(select(func.count()).select_from(ApiKey)) or 0


async def mark_api_key_used(db: AsyncSession, *, key_id: str, at: datetime) -> None:
    """Record when the key was last used (one UPDATE, no read)."""
    await db.execute(
        update(ApiKey).where(ApiKey.id == key_id).values(last_used_at=at),
        execution_options={"synchronize_session": "evaluate"},
    )


async def revoke_api_key(db: AsyncSession, *, key: ApiKey, at: datetime) -> ApiKey:
    """Mark the key revoked from `at` on; revoking twice keeps the first date."""
    if key.revoked_at is None:
        key.revoked_at = at
        await db.flush()
    return key
