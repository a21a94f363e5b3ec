"""The first start's admin key, so that a fresh install is usable and never open."""

from __future__ import annotations

import os
from pathlib import Path

from thinkingthoughts.security.api_keys import Scope, generate_key_secret
from thinkingthoughts.storage import key_store
from thinkingthoughts.storage.database import Database

BOOTSTRAP_KEY_NAME = "bootstrap-admin"
BOOTSTRAP_OWNER = "admin"


async def create_key(
    database: Database, *, name: str, scopes: list[Scope], owner: str | None = None
) -> str:
    """Store a new key and return its secret (the only time it is ever visible)."""
    new = generate_key_secret()
    async with database.session() as db, db.begin():
        await key_store.create_api_key(
            db,
            name=name,
            prefix=new.prefix,
            secret_hash=new.secret_hash,
            scopes=[scope.value for scope in scopes],
            owner=owner or f"key-{new.prefix}",
        )
    return new.secret


async def ensure_bootstrap_admin_key(database: Database, key_file: Path) -> str | None:
    """Create an admin key when none exists; write it to `key_file` for the local UI."""
    async with database.session() as db:
        if await key_store.count_api_keys(db) > 0:
            return None
    secret = await create_key(
        database, name=BOOTSTRAP_KEY_NAME, scopes=[Scope.ADMIN], owner=BOOTSTRAP_OWNER
    )
    write_secret_file(key_file, secret)
    return secret


def write_secret_file(path: Path, secret: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(secret + "\n")
