"""Who sees and uses which persona: private personas per owner, and per-key allow-lists.

A chat key's persona is private to the key's owner: to every other owner it does not
exist, on every route. A key with allow-lists uses, and sees, only what they name.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.integration.live_servers import LiveGateway, ThreadedSimulator
from tests.integration.test_chat_errors import assert_error

SIM_MODEL = "thinkingthoughts-sim"
MUSE: dict[str, Any] = {
    "name": "Private Muse",
    "slug": "muse",
    "base_prompt": "You whisper ideas to one writer only.",
    "greeting": "Psst.",
}
HELLO = [{"role": "user", "content": "hello there"}]


def new_key(admin: httpx.Client, *, scopes: tuple[str, ...] = ("chat",), **fields: Any) -> str:
    """The secret of a new key made through the keys API (owner, limits, allow-lists)."""
    created = admin.post("/api/keys", json={"name": "tenant", "scopes": list(scopes), **fields})
    assert created.status_code == 201, created.text
    return str(created.json()["secret"])


def assert_openai_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The error body OpenAI's SDKs parse: message, type, param, code."""
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["message"]
    assert error["code"] == code
    return error


def completion(
    client: httpx.Client, model: str, *, session: str | None = None, **extra: Any
) -> httpx.Response:
    """A /v1 completion of HELLO; `session` goes in the X-Session-Id header."""
    headers = {"X-Session-Id": session} if session else {}
    return client.post(
        "/v1/chat/completions", json={"model": model, "messages": HELLO, **extra}, headers=headers
    )


def persona_slugs(client: httpx.Client) -> list[str]:
    response = client.get("/api/personas")
    assert response.status_code == 200, response.text
    return [p["slug"] for p in response.json()["data"]]


def model_ids(client: httpx.Client) -> list[str]:
    response = client.get("/v1/models")
    assert response.status_code == 200, response.text
    return [m["id"] for m in response.json()["data"]]


def session_total(client: httpx.Client) -> int:
    return int(client.get("/api/sessions").json()["total"])


@dataclass
class Tenants:
    """Two owners' chat keys; the first owns the private persona `muse`."""

    owner: httpx.Client
    stranger: httpx.Client
    muse: dict[str, Any]


@pytest.fixture
def tenants(gateway: LiveGateway, admin: httpx.Client) -> Iterator[Tenants]:
    alice = new_key(admin, owner="alice")
    bob = new_key(admin, owner="bob")
    with gateway.client(alice) as owner, gateway.client(bob) as stranger:
        created = owner.post("/api/personas", json=MUSE)
        assert created.status_code == 201, created.text
        yield Tenants(owner=owner, stranger=stranger, muse=created.json())


# Private personas


def test_a_chat_keys_new_persona_is_private_and_an_admins_is_global(
    tenants: Tenants, admin: httpx.Client
) -> None:
    assert tenants.muse["private"] is True
    made_by_admin = admin.post("/api/personas", json={**MUSE, "name": "Open", "slug": "open"})
    assert made_by_admin.status_code == 201
    assert made_by_admin.json()["private"] is False
    assert tenants.stranger.get("/api/personas/open").json()["private"] is False
    assert admin.get("/api/personas/muse").json()["private"] is True
    assert admin.get("/api/personas/seline").json()["private"] is False


def stranger_calls(ref: str) -> list[tuple[str, str, dict[str, Any] | None]]:
    """Every native route that names a persona, as (method, path, body)."""
    return [
        ("GET", f"/api/personas/{ref}", None),
        ("POST", f"/api/personas/{ref}/preview", {"traits": {}}),
        ("PATCH", f"/api/personas/{ref}", {"tone": "loud"}),
        ("PUT", f"/api/personas/{ref}", {"name": "Taken Over", "slug": "muse"}),
        ("DELETE", f"/api/personas/{ref}", None),
        ("POST", "/api/chat", {"message": "hi", "persona": ref}),
        ("POST", "/api/chat", {"messages": HELLO, "persona": ref, "stream": True}),
    ]


@pytest.mark.parametrize("by", ["slug", "id"])
def test_another_owners_private_persona_is_not_found_on_every_route(
    tenants: Tenants, simulator: ThreadedSimulator, by: str
) -> None:
    ref = tenants.muse[by]
    upstream_calls = len(simulator.recorded_requests())
    for method, path, body in stranger_calls(ref):
        response = tenants.stranger.request(method, path, json=body)
        assert_error(response, 404, "persona_not_found")
    for stream in (False, True):
        refused = completion(tenants.stranger, "persona:muse", stream=stream)
        # exactly what a persona model that does not exist gets
        missing = completion(tenants.stranger, "persona:no-such-persona", stream=stream)
        error = assert_openai_error(refused, 404, "model_not_found")
        assert error["type"] == assert_openai_error(missing, 404, "model_not_found")["type"]

    assert len(simulator.recorded_requests()) == upstream_calls
    assert session_total(tenants.stranger) == 0
    assert tenants.owner.get("/api/personas/muse").json() == tenants.muse


def test_a_private_persona_is_refused_like_a_missing_one(tenants: Tenants) -> None:
    for (method, path, body), (_, missing_path, missing_body) in zip(
        stranger_calls("muse"), stranger_calls("ghost"), strict=True
    ):
        private = tenants.stranger.request(method, path, json=body)
        missing = tenants.stranger.request(method, missing_path, json=missing_body)
        assert private.status_code == missing.status_code == 404
        assert private.json()["error"]["message"] == missing.json()["error"]["message"].replace(
            "ghost", "muse"
        )


def test_a_private_persona_is_listed_for_its_owner_and_admins_only(
    tenants: Tenants, admin: httpx.Client
) -> None:
    assert "muse" in persona_slugs(tenants.owner)
    assert "muse" in persona_slugs(admin)
    assert "muse" not in persona_slugs(tenants.stranger)
    assert {"seline", "tutor", "concierge"} <= set(persona_slugs(tenants.stranger))

    assert "persona:muse" in model_ids(tenants.owner)
    assert "persona:muse" in model_ids(admin)
    assert "persona:muse" not in model_ids(tenants.stranger)
    assert {SIM_MODEL, "persona:seline"} <= set(model_ids(tenants.stranger))


def test_a_key_of_the_same_owner_sees_and_uses_the_private_persona(
    gateway: LiveGateway, admin: httpx.Client, tenants: Tenants
) -> None:
    with gateway.client(new_key(admin, owner="alice", scopes=("read",))) as reader:
        assert reader.get("/api/personas/muse").json()["id"] == tenants.muse["id"]
        assert "muse" in persona_slugs(reader)
    with gateway.client(new_key(admin, owner="alice")) as colleague:
        reply = colleague.post("/api/chat", json={"message": "hi", "persona": "muse"})
        assert reply.status_code == 200, reply.text


def test_the_owner_chats_with_updates_and_deletes_a_private_persona(tenants: Tenants) -> None:
    owner = tenants.owner
    reply = owner.post("/api/chat", json={"message": "an idea?", "persona": "muse"})
    assert reply.status_code == 200, reply.text
    assert reply.json()["persona"] == "muse"
    assert reply.json()["assistant"].startswith("[Private Muse]")
    openai_reply = completion(owner, "persona:muse")
    assert openai_reply.status_code == 200, openai_reply.text
    assert openai_reply.json()["model"] == "persona:muse"
    preview = owner.post("/api/personas/muse/preview", json={"traits": {}})
    assert "You whisper ideas" in preview.json()["system_prompt"]

    patched = owner.patch("/api/personas/muse", json={"tone": "hushed"})
    assert patched.status_code == 200, patched.text
    assert (patched.json()["tone"], patched.json()["version"]) == ("hushed", 2)
    assert patched.json()["private"] is True
    replaced = owner.put("/api/personas/muse", json={"name": "Muse", "slug": "muse"})
    assert replaced.status_code == 200, replaced.text
    assert (replaced.json()["name"], replaced.json()["private"]) == ("Muse", True)
    assert "muse" not in persona_slugs(tenants.stranger)  # still private after the changes

    assert owner.delete("/api/personas/muse").status_code == 204
    assert_error(owner.get("/api/personas/muse"), 404, "persona_not_found")


def test_an_admin_can_change_a_private_persona_and_it_stays_private(
    tenants: Tenants, admin: httpx.Client
) -> None:
    patched = admin.patch("/api/personas/muse", json={"tone": "formal"})
    assert patched.status_code == 200, patched.text
    assert patched.json()["private"] is True
    assert tenants.owner.get("/api/personas/muse").json()["tone"] == "formal"
    assert_error(tenants.stranger.get("/api/personas/muse"), 404, "persona_not_found")


@pytest.mark.parametrize(
    ("method", "body"),
    [
        ("PATCH", {"tone": "rude"}),
        ("PUT", {"name": "Tutor", "slug": "tutor"}),
        ("DELETE", None),
    ],
)
def test_a_chat_key_cannot_change_a_global_persona(
    tenants: Tenants, admin: httpx.Client, method: str, body: dict[str, Any] | None
) -> None:
    before = admin.get("/api/personas/tutor").json()
    response = tenants.owner.request(method, "/api/personas/tutor", json=body)
    assert_error(response, 403, "persona_read_only")
    assert admin.get("/api/personas/tutor").json() == before


# Allow-lists


@pytest.fixture
def tutor_only(gateway: LiveGateway, admin: httpx.Client) -> Iterator[httpx.Client]:
    with gateway.client(new_key(admin, owner="class-7b", allowed_personas=["tutor"])) as client:
        yield client


def test_a_key_allowed_only_tutor_cannot_chat_with_another_persona(
    tutor_only: httpx.Client, simulator: ThreadedSimulator
) -> None:
    upstream_calls = len(simulator.recorded_requests())
    assert_error(
        tutor_only.post("/api/chat", json={"message": "hi", "persona": "seline"}),
        403,
        "persona_not_allowed",
    )
    # the default persona is seline: not allowed either
    assert_error(tutor_only.post("/api/chat", json={"message": "hi"}), 403, "persona_not_allowed")
    streamed = tutor_only.post(
        "/api/chat", json={"message": "hi", "persona": "seline", "stream": True}
    )
    assert_error(streamed, 403, "persona_not_allowed")
    for stream in (False, True):
        refused = completion(tutor_only, "persona:seline", stream=stream, session="new")
        error = assert_openai_error(refused, 403, "persona_not_allowed")
        assert error["type"] == "permission_error"

    assert len(simulator.recorded_requests()) == upstream_calls
    assert session_total(tutor_only) == 0


def test_a_key_allowed_only_tutor_chats_with_tutor(tutor_only: httpx.Client) -> None:
    reply = tutor_only.post("/api/chat", json={"message": "teach me", "persona": "tutor"})
    assert reply.status_code == 200, reply.text
    assert reply.json()["persona"] == "tutor"
    assert completion(tutor_only, "persona:tutor").status_code == 200
    assert session_total(tutor_only) == 1


def test_a_key_allowed_only_tutor_sees_only_tutor(tutor_only: httpx.Client) -> None:
    assert persona_slugs(tutor_only) == ["tutor"]
    assert model_ids(tutor_only) == [SIM_MODEL, "persona:tutor"]
    assert tutor_only.get("/api/personas/tutor").status_code == 200
    for hidden in ("/api/personas/seline", "/api/personas/seline/preview"):
        method = "POST" if hidden.endswith("preview") else "GET"
        assert_error(tutor_only.request(method, hidden), 404, "persona_not_found")


def test_a_persona_allow_list_applies_to_the_owners_private_personas_too(
    gateway: LiveGateway, admin: httpx.Client
) -> None:
    with gateway.client(new_key(admin, owner="dana", allowed_personas=["tutor"])) as client:
        assert client.post("/api/personas", json=MUSE).status_code == 201
        assert persona_slugs(client) == ["tutor"]
        assert_error(
            client.post("/api/chat", json={"message": "hi", "persona": "muse"}),
            403,
            "persona_not_allowed",
        )


def test_a_key_whose_models_exclude_the_upstream_model_cannot_chat(
    gateway: LiveGateway, admin: httpx.Client, simulator: ThreadedSimulator
) -> None:
    secret = new_key(admin, owner="eve", allowed_models=["some-other-model"])
    upstream_calls = len(simulator.recorded_requests())
    with gateway.client(secret) as client:
        assert_error(client.post("/api/chat", json={"message": "hi"}), 403, "model_not_allowed")
        assert_error(
            client.post("/api/chat", json={"messages": HELLO, "stream": True}),
            403,
            "model_not_allowed",
        )
        for model in ("persona:seline", SIM_MODEL):
            assert_openai_error(completion(client, model), 403, "model_not_allowed")
        # Persona models run on the upstream model: none of them is usable either.
        assert model_ids(client) == []
        assert session_total(client) == 0
    assert len(simulator.recorded_requests()) == upstream_calls


def test_a_key_whose_models_include_the_upstream_model_chats(
    gateway: LiveGateway, admin: httpx.Client
) -> None:
    secret = new_key(admin, allowed_models=[SIM_MODEL, "some-other-model"])
    with gateway.client(secret) as client:
        assert client.post("/api/chat", json={"message": "hi"}).status_code == 200
        assert completion(client, SIM_MODEL).status_code == 200
        assert SIM_MODEL in model_ids(client)


def test_an_allow_list_changed_by_patch_applies_from_the_next_request(
    gateway: LiveGateway, admin: httpx.Client
) -> None:
    created = admin.post("/api/keys", json={"name": "changing", "scopes": ["chat"]}).json()
    with gateway.client(created["secret"]) as client:
        assert client.post("/api/chat", json={"message": "hi"}).status_code == 200
        key_id = created["key"]["id"]
        assert admin.patch(f"/api/keys/{key_id}", json={"allowed_personas": ["tutor"]}).is_success
        assert_error(client.post("/api/chat", json={"message": "hi"}), 403, "persona_not_allowed")
        assert admin.patch(f"/api/keys/{key_id}", json={"allowed_personas": None}).is_success
        assert client.post("/api/chat", json={"message": "hi"}).status_code == 200
