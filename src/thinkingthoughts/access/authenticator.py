"""Turns the secret a client presents into a Principal, or refuses it."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from thinkingthoughts.access.api_keys import hash_key_secret, parse_scopes
from thinkingthoughts.access.key_management import key_policy
from thinkingthoughts.access.principal import Principal
from thinkingthoughts.errors import AuthenticationError
from thinkingthoughts.recent_reads import RecentReads
from thinkingthoughts.storage import key_store
from thinkingthoughts.storage.database import Database

MISSING_KEY_MESSAGE = "an API key is required: send it as 'x-api-key' or 'Authorization: Bearer'"
INVALID_KEY_MESSAGE = "the API key is not valid"
LAST_USED_RESOLUTION = timedelta(minutes=1)
"""How stale a key's `last_used_at` may be: at most one write per key and minute."""


def extract_secret(*, api_key_header: str | None, bearer_token: str | None) -> str | None:
    """The secret a client sent: `x-api-key` first, then `Authorization: Bearer`."""
    for candidate in (api_key_header, bearer_token):
        if candidate and candidate.strip():
            return candidate.strip()
    return None


@dataclass(frozen=True, slots=True)
class _KnownKey:
    """A key as last read from the database."""

    principal: Principal
    expires_at: datetime | None
    last_used_at: datetime | None


class KeyAuthenticator:
    """Checks secrets against the stored keys.

    A valid key is remembered for `cache_seconds` (kept under the 5 s within which every
    replica must refuse a revoked key), so that a busy key costs one database read per
    period instead of one per request. Unknown secrets are never remembered: a key made
    on another replica works at once. Changes made through this process (`forget`) apply
    at once here; expiry is checked on every request.
    """

    def __init__(
        self,
        database: Database,
        *,
        cache_seconds: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._database = database
        self._known: RecentReads[str, _KnownKey] = RecentReads(cache_seconds, clock=clock)

    async def authenticate(self, secret: str | None) -> Principal:
        if not secret:
            raise AuthenticationError(MISSING_KEY_MESSAGE, code="missing_api_key")
        digest = hash_key_secret(secret)
        known = self._known.get(digest) or await self._read(digest)
        now = datetime.now(UTC)
        if known.expires_at is not None and known.expires_at <= now:
            raise AuthenticationError("the API key has expired", code="expired_api_key")
        if known.last_used_at is None or now - known.last_used_at >= LAST_USED_RESOLUTION:
            async with self._database.transaction() as db:
                await key_store.mark_api_key_used(db, key_id=known.principal.key_id, at=now)
            self._known.update(digest, replace(known, last_used_at=now))
        return known.principal

    def forget(self) -> None:
        """Drop every remembered key: one was changed, revoked or rotated here."""
        self._known.forget()

    async def _read(self, digest: str) -> _KnownKey:
        started = self._known.start_read()
        async with self._database.session() as db:
            row = await key_store.find_api_key_by_hash(db, secret_hash=digest)
        if row is None or row.revoked_at is not None:
            raise AuthenticationError(INVALID_KEY_MESSAGE)
        known = _KnownKey(
            principal=Principal(
                key_id=row.id,
                name=row.name,
                owner=row.owner,
                scopes=parse_scopes(row.scopes),
                policy=key_policy(row),
            ),
            expires_at=row.expires_at,
            last_used_at=row.last_used_at,
        )
        self._known.remember(started, digest, known)
        return known
