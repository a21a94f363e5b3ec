"""A replica reuses a persona it has read for a short while: edits made through it apply at
once, edits made elsewhere once the period ends, and a persona deleted elsewhere meanwhile
never breaks a turn."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from sqlalchemy import delete

from tests.integration.conftest import GatewayFactory
from tests.integration.live_servers import LiveGateway, on_database
from tests.integration.test_chat_errors import assert_error
from tests.integration.test_personas_api import NEW_PERSONA
from tests.manual_clock import ManualClock
from thinkingthoughts.personas.catalog import load_trait_catalog
from thinkingthoughts.personas.registry import PersonaRegistry
from thinkingthoughts.personas.sheet import PersonaSheet
from thinkingthoughts.settings import Settings
from thinkingthoughts.storage.database import Database
from thinkingthoughts.storage.models import Persona

CACHE_SECONDS = 2.0


def _registry(clock: ManualClock) -> PersonaRegistry:
    return PersonaRegistry(
        catalog=load_trait_catalog(Settings(_env_file=None).traits_file),
        policy_for_locale=lambda _locale: "Be kind.",
        default_ref="nemo",
        cache_seconds=CACHE_SECONDS,
        clock=clock,
    )


async def test_an_edit_made_elsewhere_shows_once_the_period_ends(database: Database) -> None:
    clock = ManualClock()
    here, elsewhere = _registry(clock), _registry(ManualClock())
    async with database.transaction() as db:
        await here.create(db, PersonaSheet.model_validate(NEW_PERSONA))
    async with database.session() as db:
        first = await here.get(db, "nemo")

    async with database.transaction() as db:  # another replica edits it
        await elsewhere.update(db, "nemo", {"tone": "dry"})
    async with database.session() as db:
        clock.now += CACHE_SECONDS - 0.1
        still = await here.get(db, "nemo")
        clock.now += 0.1
        refreshed = await here.get(db, "nemo")

    assert (still.version, still.sheet.tone) == (first.version, first.sheet.tone)
    assert (refreshed.version, refreshed.sheet.tone) == (first.version + 1, "dry")


async def test_an_edit_made_here_applies_at_once(database: Database) -> None:
    registry = _registry(ManualClock())
    async with database.transaction() as db:
        await registry.create(db, PersonaSheet.model_validate(NEW_PERSONA))
    async with database.session() as db:
        await registry.get(db, "nemo")
    async with database.transaction() as db:
        await registry.update(db, "nemo", {"tone": "dry"})
    async with database.session() as db:
        assert (await registry.get(db, "nemo")).sheet.tone == "dry"


async def test_a_missing_persona_is_not_remembered(database: Database) -> None:
    registry = _registry(ManualClock())
    async with database.session() as db:
        with pytest.raises(Exception, match="no persona 'nemo'"):
            await registry.get(db, "nemo")
    async with database.transaction() as db:
        await registry.create(db, PersonaSheet.model_validate(NEW_PERSONA))
    async with database.session() as db:
        assert (await registry.get(db, "nemo")).slug == "nemo"


def test_a_persona_deleted_elsewhere_is_a_404_and_stores_nothing(
    gateway_factory: GatewayFactory,
) -> None:
    # A long period, so that the second turn surely meets the remembered persona.
    gateway = gateway_factory(persona_cache_seconds=60)
    with gateway.client(gateway.admin_key) as admin:
        _delete_and_chat_again(gateway, admin)


def _delete_and_chat_again(gateway: LiveGateway, admin: httpx.Client) -> None:
    assert admin.post("/api/personas", json=NEW_PERSONA).status_code == 201
    session_id = admin.post("/api/chat", json={"message": "hi", "persona": "nemo"}).json()[
        "session_id"
    ]
    before = admin.get(f"/api/sessions/{session_id}").json()["message_count"]

    async def delete_nemo(database: Database) -> None:
        async with database.transaction() as db:
            await db.execute(delete(Persona).where(Persona.slug == "nemo"))

    on_database(gateway.server.settings.resolved_database_url, delete_nemo)
    again = admin.post(
        "/api/chat", json={"message": "still there?", "persona": "nemo", "session_id": session_id}
    )

    assert_error(again, 404, "persona_not_found")
    assert admin.get(f"/api/sessions/{session_id}").json()["message_count"] == before


def test_v1_records_a_turn_whose_persona_was_deleted_elsewhere(
    gateway_factory: GatewayFactory,
) -> None:
    gateway = gateway_factory(persona_cache_seconds=60)
    with gateway.client(gateway.admin_key) as admin:
        assert admin.post("/api/personas", json=NEW_PERSONA).status_code == 201
        turn = {"model": "persona:nemo", "messages": [{"role": "user", "content": "hi"}]}
        first = admin.post("/v1/chat/completions", json=turn, headers={"X-Session-Id": "new"})
        assert first.status_code == 200
        session_id = first.headers["x-session-id"]

        async def delete_nemo(database: Database) -> None:
            async with database.transaction() as db:
                await db.execute(delete(Persona).where(Persona.slug == "nemo"))

        on_database(gateway.server.settings.resolved_database_url, delete_nemo)
        again = admin.post("/v1/chat/completions", json=turn, headers={"X-Session-Id": session_id})

        assert again.status_code == 200, again.text
        stored = admin.get(f"/api/sessions/{session_id}").json()
    assert [m["role"] for m in stored["messages"]][-4:] == ["user", "assistant"] * 2
    assert stored["persona"] is None  # no longer linked to the deleted persona


async def test_a_forget_during_a_read_keeps_that_read_out_of_the_cache(
    database: Database,
) -> None:
    registry = _registry(ManualClock())
    async with database.transaction() as db:
        await registry.create(db, PersonaSheet.model_validate(NEW_PERSONA))
    async with database.session() as db:
        reading = asyncio.create_task(registry.get(db, "nemo"))
        await asyncio.sleep(0)  # the read is under way, waiting for the database
        registry.forget()  # an edit here commits meanwhile
        await reading
    async with database.transaction() as db:
        await _elsewhere_registry().update(db, "nemo", {"tone": "dry"})
    async with database.session() as db:
        assert (await registry.get(db, "nemo")).sheet.tone == "dry"


def _elsewhere_registry() -> PersonaRegistry:
    return _registry(ManualClock())
