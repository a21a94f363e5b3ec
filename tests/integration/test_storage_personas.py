from __future__ import annotations

import pytest
from sqlalchemy import select

from thinkingthoughts.errors import SlugTakenError
from thinkingthoughts.storage import persona_store, session_store
from thinkingthoughts.storage.database import Database
from thinkingthoughts.storage.models import ChatSession

SHEET = {"name": "Ada", "slug": "ada", "base_prompt": "You explain things patiently."}


async def test_created_persona_starts_at_version_one(database: Database) -> None:
    async with database.session() as db, db.begin():
        persona = await persona_store.create_persona(db, slug="ada", name="Ada", sheet=SHEET)

    assert persona.version == 1
    assert persona.owner is None
    assert persona.created_at == persona.updated_at
    assert len(persona.id) == 36


async def test_persona_is_found_by_id_and_by_slug(database: Database) -> None:
    async with database.session() as db, db.begin():
        created = await persona_store.create_persona(db, slug="ada", name="Ada", sheet=SHEET)

    async with database.session() as db:
        by_id = await persona_store.get_persona(db, ref=created.id)
        by_slug = await persona_store.get_persona(db, ref="ada")
        missing = await persona_store.get_persona(db, ref="nobody")

    assert by_id is not None
    assert by_id.id == created.id
    assert by_slug is not None
    assert by_slug.id == created.id
    assert by_slug.sheet == SHEET
    assert missing is None


async def test_update_replaces_the_sheet_and_bumps_the_version(database: Database) -> None:
    async with database.session() as db, db.begin():
        persona = await persona_store.create_persona(db, slug="ada", name="Ada", sheet=SHEET)
    new_sheet = {**SHEET, "slug": "ada-l", "name": "Ada L."}

    async with database.session() as db, db.begin():
        updated = await persona_store.update_persona(
            db, persona_id=persona.id, slug="ada-l", name="Ada L.", sheet=new_sheet
        )

    async with database.session() as db:
        stored = await persona_store.get_persona(db, ref="ada-l")

    assert updated.version == 2
    assert stored is not None
    assert (stored.version, stored.name, stored.sheet) == (2, "Ada L.", new_sheet)
    assert stored.updated_at > stored.created_at


async def test_updates_from_stale_copies_still_get_distinct_versions(database: Database) -> None:
    async with database.session() as db, db.begin():
        created = await persona_store.create_persona(db, slug="ada", name="Ada", sheet=SHEET)

    async with database.session() as first, database.session() as second:
        copy_a = await persona_store.get_persona(first, ref=created.id)
        copy_b = await persona_store.get_persona(second, ref=created.id)
        assert copy_a is not None
        assert copy_b is not None
        first_update = await persona_store.update_persona(
            first, persona_id=copy_a.id, slug="ada", name="First", sheet=SHEET
        )
        await first.commit()
        second_update = await persona_store.update_persona(
            second, persona_id=copy_b.id, slug="ada", name="Second", sheet=SHEET
        )
        await second.commit()

    assert (copy_a.version, copy_b.version) == (1, 1)
    assert (first_update.version, second_update.version) == (2, 3)


async def test_taken_slug_is_refused(database: Database) -> None:
    async with database.session() as db, db.begin():
        await persona_store.create_persona(db, slug="ada", name="Ada", sheet=SHEET)

    async with database.session() as db:
        with pytest.raises(SlugTakenError, match="'ada'"):
            await persona_store.create_persona(db, slug="ada", name="Other", sheet=SHEET)
        # The refusal leaves the transaction usable: the next write goes through.
        other = await persona_store.create_persona(db, slug="bea", name="Bea", sheet=SHEET)
        assert await persona_store.get_persona(db, ref="bea") == other


async def test_renaming_onto_a_taken_slug_is_refused(database: Database) -> None:
    async with database.session() as db, db.begin():
        await persona_store.create_persona(db, slug="ada", name="Ada", sheet=SHEET)
        grace = await persona_store.create_persona(db, slug="grace", name="Grace", sheet=SHEET)

    async with database.session() as db:
        with pytest.raises(SlugTakenError):
            await persona_store.update_persona(
                db, persona_id=grace.id, slug="ada", name="Grace", sheet=SHEET
            )
        kept = await persona_store.get_persona(db, ref=grace.id)
    assert kept is not None
    assert (kept.slug, kept.version) == ("grace", 1)


async def test_list_is_ordered_by_name_and_counts_agree(database: Database) -> None:
    async with database.session() as db, db.begin():
        for slug, name in [("zed", "Zed"), ("ada", "Ada"), ("max", "Max")]:
            await persona_store.create_persona(db, slug=slug, name=name, sheet=SHEET)

    async with database.session() as db:
        names = [p.name for p in await persona_store.list_personas(db)]
        slugs = await persona_store.slugs_taken(db)
        count = await persona_store.count_personas(db)

    assert names == ["Ada", "Max", "Zed"]
    assert slugs == {"zed", "ada", "max"}
    assert count == 3


async def test_deleted_persona_is_gone_and_its_sessions_remain(database: Database) -> None:
    async with database.session() as db, db.begin():
        persona = await persona_store.create_persona(db, slug="ada", name="Ada", sheet=SHEET)
        session = await session_store.create_session(
            db, owner="alice", persona_id=persona.id, traits={}
        )

    async with database.session() as db, db.begin():
        await persona_store.delete_persona(db, persona_id=persona.id)

    async with database.session() as db:
        assert await persona_store.get_persona(db, ref="ada") is None
        assert await persona_store.count_personas(db) == 0
        kept = await db.scalar(select(ChatSession).where(ChatSession.id == session.id))
    assert kept is not None
    assert kept.persona_id is None


async def test_an_id_wins_over_a_slug_spelled_like_it(database: Database) -> None:
    async with database.session() as db, db.begin():
        target = await persona_store.create_persona(db, slug="ada", name="Ada", sheet=SHEET)
        await persona_store.create_persona(db, slug=target.id, name="Impostor", sheet=SHEET)

    async with database.session() as db:
        found = await persona_store.get_persona(db, ref=target.id)

    assert found is not None
    assert found.name == "Ada"


async def test_two_owners_may_each_have_a_private_persona_of_one_slug(database: Database) -> None:
    async with database.session() as db, db.begin():
        alice = await persona_store.create_persona(
            db, slug="muse", name="A", sheet=SHEET, owner="alice"
        )
        bob = await persona_store.create_persona(
            db, slug="muse", name="B", sheet=SHEET, owner="bob"
        )

    async with database.session() as db:
        seen_by_alice = await persona_store.get_persona(db, ref="muse", visible_to="alice")
        seen_by_bob = await persona_store.get_persona(db, ref="muse", visible_to="bob")
        seen_by_carol = await persona_store.get_persona(db, ref="muse", visible_to="carol")

    assert seen_by_alice is not None
    assert seen_by_alice.id == alice.id
    assert seen_by_bob is not None
    assert seen_by_bob.id == bob.id
    assert seen_by_carol is None


@pytest.mark.parametrize("owner", [None, "alice"], ids=["among-globals", "within-one-owner"])
async def test_one_slug_twice_among_globals_or_within_one_owner_is_refused(
    database: Database, owner: str | None
) -> None:
    async with database.session() as db, db.begin():
        await persona_store.create_persona(db, slug="muse", name="A", sheet=SHEET, owner=owner)

    async with database.session() as db:
        with pytest.raises(SlugTakenError):
            async with db.begin():
                await persona_store.create_persona(
                    db, slug="muse", name="B", sheet=SHEET, owner=owner
                )


async def test_an_owners_own_persona_wins_over_a_global_of_the_same_slug(
    database: Database,
) -> None:
    """Both exist only when made at the same instant (the registry refuses the second
    otherwise); the choice must still be the same on every read."""
    async with database.session() as db, db.begin():
        shared = await persona_store.create_persona(db, slug="muse", name="G", sheet=SHEET)
        own = await persona_store.create_persona(
            db, slug="muse", name="A", sheet=SHEET, owner="alice"
        )

    async with database.session() as db:
        for_alice = await persona_store.get_persona(db, ref="muse", visible_to="alice")
        for_bob = await persona_store.get_persona(db, ref="muse", visible_to="bob")
        for_admins = await persona_store.get_persona(db, ref="muse")

    assert for_alice is not None
    assert for_alice.id == own.id
    assert for_bob is not None
    assert for_bob.id == shared.id
    assert for_admins is not None
    assert for_admins.id == shared.id


async def test_a_slug_is_in_use_only_among_what_its_owner_can_see(database: Database) -> None:
    async with database.session() as db, db.begin():
        await persona_store.create_persona(db, slug="seline", name="S", sheet=SHEET)
        muse = await persona_store.create_persona(
            db, slug="muse", name="M", sheet=SHEET, owner="alice"
        )

    async with database.session() as db:
        assert not await persona_store.slug_in_use(db, slug="muse", owner="bob")
        assert await persona_store.slug_in_use(db, slug="muse", owner="alice")
        assert not await persona_store.slug_in_use(
            db, slug="muse", owner="alice", other_than=muse.id
        )
        assert await persona_store.slug_in_use(db, slug="seline", owner="bob")
        # A global slug must be free everywhere: admins see every persona anyway.
        assert await persona_store.slug_in_use(db, slug="muse", owner=None)
