"""The first start's admin key, so that a fresh install is usable and never open."""

from __future__ import annotations

import os
from pathlib import Path

from thinkingthoughts.access.api_keys import Scope, generate_key_secret
from thinkingthoughts.access.key_management import store_key
from thinkingthoughts.storage import key_store
from thinkingthoughts.storage.database import Database

BOOTSTRAP_KEY_NAME = "bootstrap-admin"
BOOTSTRAP_OWNER = "admin"


async def ensure_bootstrap_admin_key(database: Database, key_file: Path) -> str | None:
    """Create an admin key when none exists; write it to `key_file` for the local UI.

    The file is written before the key is stored: a file that cannot be written stops
    the start with nothing stored, so the next start tries again instead of holding a
    key nobody has seen.
    """
    async with database.session() as db:
        if await key_store.count_api_keys(db) > 0:
            return None
    new = generate_key_secret()
    write_secret_file(key_file, new.secret)
    try:
        await store_key(
            database, new, name=BOOTSTRAP_KEY_NAME, scopes=[Scope.ADMIN], owner=BOOTSTRAP_OWNER
        )
    except BaseException:
        key_file.unlink(missing_ok=True)  # noqa: ASYNC240 - once, at start, before serving
        raise
    return new.secret


def write_secret_file(path: Path, secret: str) -> None:
    """Write a file only its owner can read, whatever the permissions of an older one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(descriptor, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(secret + "\n")
