"""Turns the secret a client presents into a Principal, or refuses it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from thinkingthoughts.errors import AuthenticationError
from thinkingthoughts.security.api_keys import hash_key_secret, parse_scopes
from thinkingthoughts.security.key_management import key_policy
from thinkingthoughts.security.principal import Principal
from thinkingthoughts.storage import key_store
from thinkingthoughts.storage.database import Database

MISSING_KEY_MESSAGE = "an API key is required: send it as 'x-api-key' or 'Authorization: Bearer'"
INVALID_KEY_MESSAGE = "the API key is not valid"
LAST_USED_RESOLUTION = timedelta(minutes=1)
"""How stale a key's `last_used_at` may be: at most one write per key and minute."""


def extract_secret(*, api_key_header: str | None, authorization: str | None) -> str | None:
    if api_key_header and api_key_header.strip():
        return api_key_header.strip()
    if authorization:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
    return None


class KeyAuthenticator:
    def __init__(self, database: Database) -> None:
        self._database = database

    async def authenticate(self, secret: str | None) -> Principal:
        if not secret:
            raise AuthenticationError(MISSING_KEY_MESSAGE, code="missing_api_key")
        async with self._database.session() as db:
            row = await key_store.find_api_key_by_hash(db, secret_hash=hash_key_secret(secret))
        if row is None or row.revoked_at is not None:
            raise AuthenticationError(INVALID_KEY_MESSAGE)
        now = datetime.now(UTC)
        if row.expires_at is not None and row.expires_at <= now:
            raise AuthenticationError("the API key has expired", code="expired_api_key")
        if row.last_used_at is None or now - row.last_used_at >= LAST_USED_RESOLUTION:
            async with self._database.session() as db, db.begin():
                await key_store.mark_api_key_used(db, key_id=row.id, at=now)
        return Principal(
            key_id=row.id,
            name=row.name,
            owner=row.owner,
            scopes=parse_scopes(row.scopes),
            policy=key_policy(row),
        )
