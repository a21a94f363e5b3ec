"""The authenticator trusts a key it has read for a short while, never longer, and never
remembers a secret it did not find. The clock is a seam: time moves when the test says."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import update

from tests.manual_clock import ManualClock
from thinkingthoughts.access.api_keys import Scope, generate_key_secret
from thinkingthoughts.access.authenticator import KeyAuthenticator
from thinkingthoughts.access.key_management import revoke_key, store_key
from thinkingthoughts.errors import AuthenticationError
from thinkingthoughts.storage.clock import utcnow
from thinkingthoughts.storage.database import Database
from thinkingthoughts.storage.models import ApiKey

CACHE_SECONDS = 2.0


async def _chat_key(database: Database) -> str:
    new = generate_key_secret()
    await store_key(database, new, name="cached", scopes=[Scope.CHAT])
    return new.secret


async def test_a_key_revoked_elsewhere_is_refused_once_the_cache_period_ends(
    database: Database,
) -> None:
    clock = ManualClock()
    authenticator = KeyAuthenticator(database, cache_seconds=CACHE_SECONDS, clock=clock)
    secret = await _chat_key(database)
    principal = await authenticator.authenticate(secret)

    await revoke_key(database, principal.key_id)  # as another replica would
    clock.now += CACHE_SECONDS - 0.1
    assert (await authenticator.authenticate(secret)).key_id == principal.key_id
    clock.now += 0.1
    with pytest.raises(AuthenticationError):
        await authenticator.authenticate(secret)


async def test_forget_applies_a_change_made_here_at_once(database: Database) -> None:
    authenticator = KeyAuthenticator(database, cache_seconds=CACHE_SECONDS, clock=ManualClock())
    secret = await _chat_key(database)
    principal = await authenticator.authenticate(secret)

    await revoke_key(database, principal.key_id)
    authenticator.forget()

    with pytest.raises(AuthenticationError):
        await authenticator.authenticate(secret)


async def test_an_unknown_secret_is_not_remembered(database: Database) -> None:
    authenticator = KeyAuthenticator(database, cache_seconds=CACHE_SECONDS, clock=ManualClock())
    new = generate_key_secret()
    with pytest.raises(AuthenticationError):
        await authenticator.authenticate(new.secret)

    await store_key(database, new, name="made elsewhere", scopes=[Scope.READ])

    assert (await authenticator.authenticate(new.secret)).name == "made elsewhere"


async def test_expiry_is_checked_on_every_request_even_while_cached(database: Database) -> None:
    clock = ManualClock()
    authenticator = KeyAuthenticator(database, cache_seconds=CACHE_SECONDS, clock=clock)
    secret = await _chat_key(database)
    principal = await authenticator.authenticate(secret)
    async with database.session() as db, db.begin():
        await db.execute(
            update(ApiKey)
            .where(ApiKey.id == principal.key_id)
            .values(expires_at=utcnow() + timedelta(milliseconds=300))
        )
    clock.now += CACHE_SECONDS  # read again: the cache now holds the expiry
    await authenticator.authenticate(secret)

    async with database.session() as db:
        row = await db.get(ApiKey, principal.key_id)
    assert row is not None
    assert row.expires_at is not None
    wait = (row.expires_at - utcnow()).total_seconds()
    if wait > 0:
        await asyncio.sleep(wait + 0.05)
    with pytest.raises(AuthenticationError) as refused:
        await authenticator.authenticate(secret)
    assert refused.value.code == "expired_api_key"


async def test_without_a_cache_period_every_request_reads_the_key(database: Database) -> None:
    authenticator = KeyAuthenticator(database, cache_seconds=0.0, clock=ManualClock())
    secret = await _chat_key(database)
    principal = await authenticator.authenticate(secret)

    await revoke_key(database, principal.key_id)

    with pytest.raises(AuthenticationError):
        await authenticator.authenticate(secret)


async def test_a_forget_during_a_read_keeps_that_read_out_of_the_cache(
    database: Database,
) -> None:
    authenticator = KeyAuthenticator(database, cache_seconds=CACHE_SECONDS, clock=ManualClock())
    secret = await _chat_key(database)
    reading = asyncio.create_task(authenticator.authenticate(secret))
    await asyncio.sleep(0)  # the read is under way, waiting for the database
    authenticator.forget()  # a revocation here commits meanwhile
    principal = await reading

    await revoke_key(database, principal.key_id)
    with pytest.raises(AuthenticationError):
        await authenticator.authenticate(secret)
