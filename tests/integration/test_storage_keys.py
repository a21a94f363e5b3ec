from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.exc import IntegrityError

from thinkingthoughts.storage import key_store
from thinkingthoughts.storage.database import Database
from thinkingthoughts.storage.key_store import KeyRow


async def _create(database: Database, name: str, secret_hash: str) -> KeyRow:
    async with database.session() as db, db.begin():
        return await key_store.create_api_key(
            db,
            name=name,
            prefix="tt_ab12cd34",
            secret_hash=secret_hash,
            scopes=["chat", "read"],
            owner=f"owner-{name}",
        )


async def test_key_is_found_by_its_secret_hash(database: Database) -> None:
    created = await _create(database, "ci", "a" * 64)

    async with database.session() as db:
        found = await key_store.find_api_key_by_hash(db, secret_hash="a" * 64)
        other = await key_store.find_api_key_by_hash(db, secret_hash="b" * 64)

    assert found is not None
    assert (found.id, found.name, found.owner) == (created.id, "ci", "owner-ci")
    assert found.scopes == ["chat", "read"]
    assert found.prefix == "tt_ab12cd34"
    assert (found.last_used_at, found.expires_at, found.revoked_at) == (None, None, None)
    assert other is None


async def test_two_keys_cannot_share_a_secret_hash(database: Database) -> None:
    await _create(database, "first", "a" * 64)

    with pytest.raises(IntegrityError):
        await _create(database, "second", "a" * 64)


async def test_keys_are_listed_oldest_first_and_counted(database: Database) -> None:
    for index, name in enumerate(["admin", "ci", "ui"]):
        await _create(database, name, str(index) * 64)

    async with database.session() as db:
        names = [key.name for key in await key_store.list_api_keys(db)]
        count = await key_store.count_api_keys(db)

    assert names == ["admin", "ci", "ui"]
    assert count == 3


async def test_marking_a_key_used_records_the_time(database: Database) -> None:
    key = await _create(database, "ci", "a" * 64)
    used_at = datetime(2031, 2, 3, 4, 5, 6, tzinfo=UTC)

    async with database.session() as db, db.begin():
        await key_store.mark_api_key_used(db, key_id=key.id, at=used_at)
        seen_in_the_same_transaction = await key_store.get_api_key(db, key_id=key.id)
        assert seen_in_the_same_transaction is not None
        assert seen_in_the_same_transaction.last_used_at == used_at

    async with database.session() as db:
        stored = await key_store.get_api_key(db, key_id=key.id)
    assert stored is not None
    assert stored.last_used_at == used_at


async def test_revoking_keeps_the_first_revocation_time(database: Database) -> None:
    key = await _create(database, "ci", "a" * 64)
    first = datetime(2031, 1, 1, tzinfo=UTC)

    async with database.session() as db, db.begin():
        revoked = await key_store.revoke_api_key(db, key_id=key.id, at=first)
        again = await key_store.revoke_api_key(db, key_id=key.id, at=first + timedelta(days=1))
    assert revoked.revoked_at == again.revoked_at == first

    async with database.session() as db:
        stored = await key_store.find_api_key_by_hash(db, secret_hash="a" * 64)
    assert stored is not None
    assert stored.revoked_at == first
