"""API keys over their life: issue, list, change, revoke, rotate. Secrets are shown only once."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from thinkingthoughts.access.api_keys import (
    NewKeySecret,
    Scope,
    generate_key_secret,
    parse_scopes,
)
from thinkingthoughts.access.key_policy import KeyPolicy, allow_list, policy_with
from thinkingthoughts.errors import ConflictError, NotFoundError
from thinkingthoughts.storage import key_store
from thinkingthoughts.storage.clock import utcnow
from thinkingthoughts.storage.database import Database
from thinkingthoughts.storage.key_store import KeyRow


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """A key as humans see it: everything but the secret."""

    id: str
    name: str
    prefix: str
    scopes: tuple[str, ...]
    owner: str
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None
    revoked_at: datetime | None
    policy: KeyPolicy

    def active_at(self, moment: datetime) -> bool:
        expired = self.expires_at is not None and self.expires_at <= moment
        return self.revoked_at is None and not expired


@dataclass(frozen=True, slots=True)
class IssuedKey:
    info: KeyInfo
    secret: str


def key_info(row: KeyRow) -> KeyInfo:
    return KeyInfo(
        id=row.id,
        name=row.name,
        prefix=row.prefix,
        scopes=tuple(row.scopes),
        owner=row.owner,
        created_at=row.created_at,
        last_used_at=row.last_used_at,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
        policy=key_policy(row),
    )


def key_policy(row: KeyRow) -> KeyPolicy:
    return KeyPolicy(
        requests_per_minute=row.requests_per_minute,
        tokens_per_minute=row.tokens_per_minute,
        concurrent_streams=row.concurrent_streams,
        allowed_personas=allow_list(row.allowed_personas),
        allowed_models=allow_list(row.allowed_models),
    )


async def issue_key(
    database: Database,
    *,
    name: str,
    scopes: list[Scope],
    owner: str | None = None,
    expires_at: datetime | None = None,
    policy: KeyPolicy | None = None,
) -> IssuedKey:
    new = generate_key_secret()
    async with database.transaction() as db:
        row = await _store(
            db,
            new,
            name=name,
            scopes=scopes,
            owner=owner,
            expires_at=expires_at,
            policy=policy or KeyPolicy(),
        )
    return IssuedKey(info=key_info(row), secret=new.secret)


async def create_key(
    database: Database, *, name: str, scopes: list[Scope], owner: str | None = None
) -> str:
    """Store a new key and return its secret (the only time it is ever visible)."""
    return (await issue_key(database, name=name, scopes=scopes, owner=owner)).secret


async def store_key(
    database: Database,
    new: NewKeySecret,
    *,
    name: str,
    scopes: list[Scope],
    owner: str | None = None,
) -> None:
    async with database.transaction() as db:
        await _store(
            db, new, name=name, scopes=scopes, owner=owner, expires_at=None, policy=KeyPolicy()
        )


async def list_keys(database: Database) -> list[KeyInfo]:
    async with database.session() as db:
        return [key_info(row) for row in await key_store.list_api_keys(db)]


async def get_key(database: Database, ref: str) -> KeyInfo:
    async with database.session() as db:
        return key_info(await _find(db, ref))


async def update_key(
    database: Database, ref: str, *, name: str | None = None, policy: Mapping[str, Any]
) -> KeyInfo:
    """Rename a key and/or change its limits and allow-lists; unnamed fields stay."""
    async with database.transaction() as db:
        row = await _find(db, ref)
        changes = policy_columns(policy_with(key_policy(row), policy))
        if name is not None:
            changes["name"] = name
        return key_info(await key_store.update_api_key(db, key_id=row.id, changes=changes))


async def revoke_key(database: Database, ref: str) -> KeyInfo:
    """Revoke a key by id or visible prefix; the last active admin key cannot go."""
    async with database.transaction() as db:
        row = await _find(db, ref)
        await _keep_an_admin(db, row)
        return key_info(await key_store.revoke_api_key(db, key_id=row.id, at=utcnow()))


async def rotate_key(database: Database, ref: str) -> IssuedKey:
    """A new secret for the same name, scopes, owner and expiry; the old one is revoked
    in the same transaction, so there is never a moment with neither or both."""
    new = generate_key_secret()
    async with database.transaction() as db:
        old = await _find(db, ref)
        if old.revoked_at is not None:
            raise ConflictError(f"key '{ref}' is revoked; create a new one", code="key_revoked")
        await key_store.revoke_api_key(db, key_id=old.id, at=utcnow())
        row = await _store(
            db,
            new,
            name=old.name,
            scopes=sorted(parse_scopes(old.scopes)),
            owner=old.owner,
            expires_at=old.expires_at,
            policy=key_policy(old),
        )
    return IssuedKey(info=key_info(row), secret=new.secret)


async def _store(
    db: AsyncSession,
    new: NewKeySecret,
    *,
    name: str,
    scopes: list[Scope],
    owner: str | None,
    expires_at: datetime | None,
    policy: KeyPolicy,
) -> KeyRow:
    return await key_store.create_api_key(
        db,
        name=name,
        prefix=new.prefix,
        secret_hash=new.secret_hash,
        scopes=[scope.value for scope in scopes],
        owner=owner or f"key-{new.prefix}",
        expires_at=expires_at,
        policy=policy_columns(policy),
    )


def policy_columns(policy: KeyPolicy) -> dict[str, Any]:
    """A key policy as the key table stores it (allow-lists as lists, or NULL)."""
    personas, models = allow_list(policy.allowed_personas), allow_list(policy.allowed_models)
    return {
        "requests_per_minute": policy.requests_per_minute,
        "tokens_per_minute": policy.tokens_per_minute,
        "concurrent_streams": policy.concurrent_streams,
        "allowed_personas": list(personas) if personas is not None else None,
        "allowed_models": list(models) if models is not None else None,
    }


async def _find(db: AsyncSession, ref: str) -> KeyRow:
    row = await key_store.get_api_key(db, key_id=ref)
    if row is not None:
        return row
    matches = await key_store.find_api_keys_by_prefix(db, prefix=ref)
    if not matches:
        raise NotFoundError(f"no key '{ref}'", code="key_not_found")
    if len(matches) > 1:
        raise ConflictError(f"several keys start with '{ref}'; use the id", code="key_ambiguous")
    return matches[0]


async def _keep_an_admin(db: AsyncSession, leaving: KeyRow) -> None:
    if Scope.ADMIN.value not in leaving.scopes or leaving.revoked_at is not None:
        return
    now = utcnow()
    others = [
        key_info(key)
        for key in await key_store.list_api_keys(db)
        if key.id != leaving.id and Scope.ADMIN.value in key.scopes
    ]
    if not any(other.active_at(now) for other in others):
        raise ConflictError(
            "this is the last active admin key; create another admin key first",
            code="last_admin_key",
        )
