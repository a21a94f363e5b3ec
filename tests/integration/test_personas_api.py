"""Personas CRUD, the trait catalog and the prompt preview, over real HTTP."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.conftest import GatewayFactory
from tests.integration.live_servers import LiveGateway, create_key_for, on_database
from tests.integration.test_chat_errors import assert_error
from tests.integration.test_tenancy import new_key
from thinkingthoughts.access.api_keys import Scope
from thinkingthoughts.storage.database import Database
from thinkingthoughts.storage.models import Persona

NEW_PERSONA: dict[str, Any] = {
    "name": "Captain Nemo",
    "slug": "nemo",
    "base_prompt": "You speak of the sea with calm authority.",
    "greeting": "Welcome aboard.",
    "interests": ["oceans", "engineering"],
    "forbidden_topics": ["politics"],
    "default_traits": {"vocabulary": 5},
}


def test_the_three_example_personas_are_seeded(admin: httpx.Client) -> None:
    slugs = {p["slug"] for p in admin.get("/api/personas").json()["data"]}
    assert {"seline", "tutor", "concierge"} <= slugs
    concierge = admin.get("/api/personas/concierge").json()
    assert "sales_tactic" in concierge["default_traits"]


def test_persona_lifecycle_by_slug_and_by_id(admin: httpx.Client) -> None:
    created = admin.post("/api/personas", json=NEW_PERSONA)
    assert created.status_code == 201
    persona = created.json()
    assert persona["version"] == 1
    assert admin.get(f"/api/personas/{persona['id']}").json()["slug"] == "nemo"

    patched = admin.patch("/api/personas/nemo", json={"tone": "dry", "interests": ["maps"]})
    assert patched.status_code == 200
    assert patched.json()["version"] == 2
    assert patched.json()["tone"] == "dry"
    assert patched.json()["greeting"] == "Welcome aboard."

    replaced = admin.put(f"/api/personas/{persona['id']}", json={"name": "Nemo", "slug": "nemo"})
    assert replaced.status_code == 200
    assert replaced.json()["greeting"] is None

    assert admin.delete("/api/personas/nemo").status_code == 204
    assert_error(admin.get("/api/personas/nemo"), 404, "persona_not_found")


def test_chatting_with_a_new_persona_uses_its_sheet(admin: httpx.Client) -> None:
    admin.post("/api/personas", json=NEW_PERSONA)
    reply = admin.post("/api/chat", json={"message": "ahoy", "persona": "nemo"}).json()
    assert reply["assistant"].startswith("[Captain Nemo]")
    session = admin.get(f"/api/sessions/{reply['session_id']}").json()
    assert session["persona"] == "nemo"
    assert session["messages"][0]["content"] == "Welcome aboard."


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"slug": "Not A Slug"}, 422, None),
        ({"default_traits": {"tone": 9}}, 422, None),
        ({"default_traits": {"sparkle": 3}}, 422, "unknown_trait"),
        ({"name": ""}, 422, None),
        ({"surprise": "field"}, 422, None),
    ],
)
def test_invalid_personas_are_refused(
    admin: httpx.Client, change: dict[str, Any], status: int, code: str | None
) -> None:
    assert_error(admin.post("/api/personas", json={**NEW_PERSONA, **change}), status, code)
    assert_error(admin.get("/api/personas/nemo"), 404)


def test_a_taken_slug_is_a_conflict(admin: httpx.Client) -> None:
    assert_error(admin.post("/api/personas", json={**NEW_PERSONA, "slug": "seline"}), 409)
    assert_error(admin.patch("/api/personas/tutor", json={"slug": "seline"}), 409)
    assert admin.get("/api/personas/tutor").json()["slug"] == "tutor"


def test_an_invalid_patch_leaves_the_persona_untouched(admin: httpx.Client) -> None:
    before = admin.get("/api/personas/tutor").json()
    assert_error(admin.patch("/api/personas/tutor", json={"locale": "klingon"}), 422)
    assert admin.get("/api/personas/tutor").json() == before


def test_preview_shows_the_compiled_prompt_for_given_traits(admin: httpx.Client) -> None:
    catalog = admin.get("/api/traits").json()
    emojis = next(d for d in catalog["dimensions"] if d["id"] == "emojis")
    low = admin.post("/api/personas/seline/preview", json={"traits": {"emojis": 1}}).json()
    high = admin.post("/api/personas/seline/preview", json={"traits": {"emojis": 5}}).json()

    assert emojis["levels"]["en"][0] in low["system_prompt"]
    assert emojis["levels"]["en"][4] in high["system_prompt"]
    assert low["traits"]["emojis"] == 1
    assert high["estimated_tokens"] > 0
    # only the trait section differs: the stable prefix is shared
    cut = high["system_prompt"].index(emojis["levels"]["en"][4])
    assert low["system_prompt"][: cut // 2] == high["system_prompt"][: cut // 2]
    assert_error(admin.post("/api/personas/seline/preview", json={"traits": {"emojis": 0}}), 422)


def test_the_trait_catalog_has_the_nine_original_dimensions(admin: httpx.Client) -> None:
    catalog = admin.get("/api/traits").json()
    ids = [d["id"] for d in catalog["dimensions"]]
    assert ids == [
        "tone",
        "emojis",
        "imperfection",
        "initiative",
        "vocabulary",
        "emotion",
        "audacity",
        "dominance",
        "sales_tactic",
    ]
    assert set(catalog["locales"]) >= {"en", "fr"}
    for dimension in catalog["dimensions"]:
        assert all(len(dimension["levels"][locale]) == 5 for locale in ("en", "fr"))


def test_only_admin_keys_change_global_personas(gateway: LiveGateway) -> None:
    chat_key = create_key_for(gateway, Scope.CHAT)
    read_key = create_key_for(gateway, Scope.READ)
    with gateway.client(chat_key) as client:
        assert client.get("/api/personas").status_code == 200
        assert_error(client.delete("/api/personas/seline"), 403, "persona_read_only")
        assert_error(client.patch("/api/personas/seline", json={"tone": "x"}), 403)
        assert client.get("/api/personas/seline").json()["tone"] != "x"
    with gateway.client(read_key) as client:
        assert_error(client.post("/api/personas", json=NEW_PERSONA), 403, "permission_denied")


def test_another_owner_can_take_a_private_slug_without_learning_that_it_exists(
    gateway: LiveGateway, admin: httpx.Client
) -> None:
    alice_key, bob_key = new_key(admin, owner="alice"), new_key(admin, owner="bob")
    private = {**NEW_PERSONA, "slug": "alice-priv"}
    with gateway.client(alice_key) as alice, gateway.client(bob_key) as bob:
        alices = alice.post("/api/personas", json=private)
        assert alices.status_code == 201, alices.text
        assert_error(bob.get("/api/personas/alice-priv"), 404, "persona_not_found")

        bobs = bob.post("/api/personas", json={**private, "name": "Bobs Muse"})

        assert bobs.status_code == 201, bobs.text
        assert bobs.json()["private"] is True
        assert bobs.json()["id"] != alices.json()["id"]
        assert alice.get("/api/personas/alice-priv").json()["id"] == alices.json()["id"]
        assert bob.get("/api/personas/alice-priv").json()["name"] == "Bobs Muse"
        reply = bob.post("/api/chat", json={"message": "hi", "persona": "alice-priv"})
        assert reply.json()["assistant"].startswith("[Bobs Muse]")


def test_a_slug_the_owner_can_see_is_still_taken(gateway: LiveGateway, admin: httpx.Client) -> None:
    with gateway.client(new_key(admin, owner="alice")) as alice:
        assert alice.post("/api/personas", json=NEW_PERSONA).status_code == 201
        second = alice.post("/api/personas", json={**NEW_PERSONA, "slug": "nemo-2"})
        assert second.status_code == 201

        assert_error(alice.post("/api/personas", json=NEW_PERSONA), 409, "slug_taken")
        assert_error(alice.patch("/api/personas/nemo-2", json={"slug": "nemo"}), 409, "slug_taken")
        global_slug = {**NEW_PERSONA, "slug": "seline"}
        assert_error(alice.post("/api/personas", json=global_slug), 409, "slug_taken")
    # A global persona shadows nothing: it cannot take a slug some owner uses.
    assert_error(admin.post("/api/personas", json=NEW_PERSONA), 409, "slug_taken")


def test_renaming_onto_another_owners_private_slug_is_allowed(
    gateway: LiveGateway, admin: httpx.Client
) -> None:
    with (
        gateway.client(new_key(admin, owner="alice")) as alice,
        gateway.client(new_key(admin, owner="bob")) as bob,
    ):
        assert alice.post("/api/personas", json=NEW_PERSONA).status_code == 201
        bobs = bob.post("/api/personas", json={**NEW_PERSONA, "slug": "bob-nemo"})

        renamed = bob.patch(f"/api/personas/{bobs.json()['id']}", json={"slug": "nemo"})

        assert renamed.status_code == 200, renamed.text
        assert alice.get("/api/personas/nemo").json()["name"] == "Captain Nemo"
        assert bob.get("/api/personas/nemo").json()["id"] == bobs.json()["id"]


def test_a_nul_stored_before_the_edge_refused_it_reads_as_a_replacement_character(
    gateway_factory: GatewayFactory, tmp_path: Path
) -> None:
    # A SQLite file of an earlier release may hold a NUL the edge now refuses.
    url = f"sqlite+aiosqlite:///{tmp_path / 'legacy.db'}"
    gateway = gateway_factory(database_url=url)
    with gateway.client(gateway.admin_key) as client:
        created = client.post("/api/personas", json={"name": "Old", "slug": "old"})
        assert created.status_code == 201, created.text

        async def store_a_nul(database: Database) -> None:
            async with database.transaction() as db:
                row = await db.get(Persona, created.json()["id"])
                assert row is not None
                row.sheet = {**row.sheet, "tone": "dry\x00wit"}

        on_database(url, store_a_nul)
        client.patch("/api/personas/old", json={"humor": "rare"})  # reads the stored sheet
        read = client.get("/api/personas/old")
        chat = client.post("/api/chat", json={"persona": "old", "message": "hi"})
    assert read.status_code == 200, read.text
    assert read.json()["tone"] == "dry\ufffdwit"
    assert chat.status_code == 200, chat.text
