"""Every route against every kind of caller: the status each one gets.

Kinds: no key, an unknown key, a `read` key, a `chat` key, an `admin` key, and for routes
on a session, the key of another owner (404: a session of someone else does not exist).
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx
import pytest

from tests.integration.conftest import GatewayFactory
from tests.integration.live_servers import LiveGateway, create_key_for
from thinkingthoughts.access.api_keys import Scope

CALLERS = ("none", "unknown", "read", "chat", "admin")


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    body: dict[str, object] | None
    allowed: frozenset[str]
    ok: int = 200
    """The status a caller with the scope gets."""

    def call(self, client: httpx.Client, session_id: str) -> httpx.Response:
        return client.request(self.method, self.path.format(session=session_id), json=self.body)


READ = frozenset({"read", "chat", "admin"})
CHAT = frozenset({"chat", "admin"})
ADMIN = frozenset({"admin"})
PERSONA: dict[str, object] = {"name": "Matrix", "slug": "matrix"}

ROUTES = [
    Route("GET", "/api/personas", None, READ),
    Route("GET", "/api/personas/seline", None, READ),
    Route("POST", "/api/personas/seline/preview", {"traits": {}}, READ),
    # A chat key's persona is private to its owner; global ones change by admin keys only.
    Route("POST", "/api/personas", PERSONA, CHAT, ok=201),
    Route("PATCH", "/api/personas/tutor", {"tone": "calm"}, ADMIN),
    Route("PUT", "/api/personas/tutor", {"name": "Tutor", "slug": "tutor"}, ADMIN),
    Route("DELETE", "/api/personas/no-such-persona", None, CHAT, ok=404),
    Route("GET", "/api/traits", None, READ),
    Route("POST", "/api/chat", {"message": "hi"}, CHAT),
    Route("GET", "/api/sessions", None, READ),
    Route("GET", "/api/sessions/{session}", None, READ),
    Route("GET", "/api/sessions/{session}/export", None, READ),
    Route("PATCH", "/api/sessions/{session}", {"title": "t"}, CHAT),
    Route("GET", "/api/keys", None, ADMIN),
    Route("POST", "/api/keys", {"name": "matrix"}, ADMIN, ok=201),
    Route("PATCH", "/api/keys/no-such-key", {"name": "x"}, ADMIN, ok=404),
    Route("DELETE", "/api/keys/no-such-key", None, ADMIN, ok=404),
    Route("POST", "/api/keys/no-such-key/rotate", None, ADMIN, ok=404),
    Route("GET", "/api/keys/me", None, READ),
    Route("GET", "/api/keys/me/usage", None, READ),
    Route("GET", "/v1/models", None, READ),
    Route("POST", "/v1/chat/completions",
          {"model": "persona:seline", "messages": [{"role": "user", "content": "hi"}]}, CHAT),
    Route("DELETE", "/api/sessions/{session}", None, CHAT, ok=204),  # last: the session goes
]  # fmt: skip


def expected_status(route: Route, caller: str) -> int:
    if caller in ("none", "unknown"):
        return 401
    if caller not in route.allowed:
        return 403
    return route.ok


@pytest.fixture
def gateway(gateway_factory: GatewayFactory) -> LiveGateway:
    """Without the brute-force limit: the matrix presents bad keys on purpose, often."""
    return gateway_factory(auth_failures_per_minute=0)


@pytest.fixture
def keys(gateway: LiveGateway) -> dict[str, str | None]:
    return {
        "none": None,
        "unknown": "tt_unknown-key",
        "read": create_key_for(gateway, Scope.READ),
        "chat": create_key_for(gateway, Scope.CHAT),
        "admin": gateway.admin_key,
    }


def test_every_route_answers_every_caller_as_its_scopes_say(
    gateway: LiveGateway, keys: dict[str, str | None]
) -> None:
    failures = []
    for caller in CALLERS:
        # Session routes use a session of the caller's own (a read key cannot make one).
        session_owner = keys["chat"] if caller in ("read", "chat") else keys["admin"]
        with gateway.client(session_owner) as owner:
            session_id = owner.post("/api/chat", json={"message": "mine"}).json()["session_id"]
        for route in ROUTES:
            if caller == "read" and "{session}" in route.path:
                continue  # another owner's session: the next test
            with gateway.client(keys[caller]) as client:
                status = route.call(client, session_id).status_code
            if status != expected_status(route, caller):
                failures.append(
                    f"{caller} {route.method} {route.path}: {status}, "
                    f"not {expected_status(route, caller)}"
                )
            if route.path == "/api/personas" and status == 201:
                with gateway.client(keys["admin"]) as admin:
                    admin.delete("/api/personas/matrix")
    assert failures == []


def test_another_owners_session_does_not_exist_on_any_route(
    gateway: LiveGateway, keys: dict[str, str | None]
) -> None:
    with gateway.client(keys["admin"]) as owner:
        session_id = owner.post("/api/chat", json={"message": "private"}).json()["session_id"]
    session_routes = [
        ("GET", f"/api/sessions/{session_id}", None),
        ("GET", f"/api/sessions/{session_id}/export", None),
        ("PATCH", f"/api/sessions/{session_id}", {"title": "mine now"}),
        ("DELETE", f"/api/sessions/{session_id}", None),
        ("POST", "/api/chat", {"message": "hi", "session_id": session_id}),
    ]
    with gateway.client(keys["chat"]) as stranger:
        statuses = [stranger.request(m, p, json=b).status_code for m, p, b in session_routes]
        openai_status = stranger.post(
            "/v1/chat/completions",
            json={"model": "persona:seline", "messages": [{"role": "user", "content": "hi"}]},
            headers={"X-Session-Id": session_id},
        ).status_code
    assert statuses == [404] * len(session_routes)
    assert openai_status == 404
    with gateway.client(keys["admin"]) as owner:
        assert owner.get(f"/api/sessions/{session_id}").json()["message_count"] == 3
