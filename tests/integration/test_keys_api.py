"""API keys over their life, through `/api/keys`: a revoked or rotated secret stops working."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from tests.integration.live_servers import LiveGateway, create_key_for, on_database
from tests.integration.test_chat_errors import assert_error
from thinkingthoughts.access.api_keys import Scope
from thinkingthoughts.access.key_management import issue_key
from thinkingthoughts.storage.clock import utcnow


def test_an_admin_creates_a_key_whose_secret_is_shown_once_and_works(
    admin: httpx.Client, gateway: LiveGateway
) -> None:
    created = admin.post(
        "/api/keys", json={"name": "web app", "scopes": ["chat"], "owner": "shop-42"}
    )
    assert created.status_code == 201
    body = created.json()
    secret = body["secret"]
    assert secret.startswith(body["key"]["prefix"])
    assert body["key"] | {"scopes": ["chat"], "owner": "shop-42", "active": True} == body["key"]

    with gateway.client(secret) as app:
        session_id = app.post("/api/chat", json={"message": "hi"}).json()["session_id"]
    listed = admin.get("/api/keys").json()["data"]
    assert [k["name"] for k in listed] == ["bootstrap-admin", "web app"]
    assert all("secret" not in k and "secret_hash" not in k for k in listed)
    # sessions belong to the owner the admin named
    assert admin.get(f"/api/sessions/{session_id}").status_code == 404


def test_a_revoked_key_is_refused_from_the_next_request(
    admin: httpx.Client, gateway: LiveGateway
) -> None:
    secret = create_key_for(gateway, Scope.CHAT)
    with gateway.client(secret) as app:
        assert app.get("/api/personas").status_code == 200
        key_id = next(k["id"] for k in admin.get("/api/keys").json()["data"] if k["name"] == "test")
        revoked = admin.delete(f"/api/keys/{key_id}")
        assert revoked.status_code == 200
        assert revoked.json()["active"] is False
        assert_error(app.get("/api/personas"), 401, "invalid_api_key")


def test_rotation_replaces_the_secret_and_keeps_name_scopes_and_owner(
    admin: httpx.Client, gateway: LiveGateway
) -> None:
    old = admin.post("/api/keys", json={"name": "rotating", "scopes": ["read"]}).json()
    rotated = admin.post(f"/api/keys/{old['key']['prefix']}/rotate")
    assert rotated.status_code == 201
    new = rotated.json()
    assert new["secret"] != old["secret"]
    assert (new["key"]["name"], new["key"]["scopes"], new["key"]["owner"]) == (
        "rotating",
        ["read"],
        old["key"]["owner"],
    )
    with gateway.client(old["secret"]) as stale, gateway.client(new["secret"]) as fresh:
        assert_error(stale.get("/api/personas"), 401)
        assert fresh.get("/api/personas").status_code == 200
    assert_error(admin.post(f"/api/keys/{old['key']['id']}/rotate"), 409, "key_revoked")


def test_the_last_admin_key_cannot_be_revoked(admin: httpx.Client) -> None:
    [bootstrap] = admin.get("/api/keys").json()["data"]
    assert_error(admin.delete(f"/api/keys/{bootstrap['id']}"), 409, "last_admin_key")
    second = admin.post("/api/keys", json={"name": "second admin", "scopes": ["admin"]}).json()
    assert admin.delete(f"/api/keys/{bootstrap['id']}").status_code == 200
    assert_error(admin.get("/api/keys"), 401)  # the caller revoked itself
    with httpx.Client(base_url=str(admin.base_url), headers={"x-api-key": second["secret"]}) as c:
        assert c.get("/api/keys").status_code == 200


def test_an_expired_key_is_refused(admin: httpx.Client, gateway: LiveGateway) -> None:
    created = admin.post(
        "/api/keys", json={"name": "short", "scopes": ["chat"], "expires_in_days": 1}
    ).json()
    assert created["key"]["expires_at"] is not None
    with gateway.client(created["secret"]) as app:
        assert app.get("/api/personas").status_code == 200

    expired = on_database(
        gateway.server.settings.resolved_database_url,
        lambda database: issue_key(
            database, name="stale", scopes=[Scope.CHAT], expires_at=utcnow() - timedelta(seconds=1)
        ),
    )
    with gateway.client(expired.secret) as stale:
        assert_error(stale.get("/api/personas"), 401, "expired_api_key")
    listed = {k["name"]: k for k in admin.get("/api/keys").json()["data"]}
    assert listed["stale"]["active"] is False


@pytest.mark.parametrize(
    "body",
    [{}, {"name": ""}, {"name": "x", "scopes": []}, {"name": "x", "scopes": ["root"]},
     {"name": "x", "expires_in_days": 0}],
)  # fmt: skip
def test_invalid_key_requests_are_refused(admin: httpx.Client, body: dict[str, object]) -> None:
    assert_error(admin.post("/api/keys", json=body), 422)
    assert len(admin.get("/api/keys").json()["data"]) == 1


def test_unknown_keys_are_not_found(admin: httpx.Client) -> None:
    assert_error(admin.delete("/api/keys/nope"), 404, "key_not_found")
    assert_error(admin.post("/api/keys/nope/rotate"), 404, "key_not_found")


def test_only_admins_manage_keys(gateway: LiveGateway) -> None:
    with gateway.client(create_key_for(gateway, Scope.CHAT)) as chat:
        assert_error(chat.get("/api/keys"), 403, "permission_denied")
        assert_error(chat.post("/api/keys", json={"name": "x"}), 403)


def test_using_a_key_records_when_it_was_last_used(
    admin: httpx.Client, gateway: LiveGateway
) -> None:
    created = admin.post("/api/keys", json={"name": "used", "scopes": ["read"]}).json()
    assert created["key"]["last_used_at"] is None
    with gateway.client(created["secret"]) as app:
        app.get("/api/personas")
        app.get("/api/personas")
    listed = {k["name"]: k for k in admin.get("/api/keys").json()["data"]}
    assert listed["used"]["last_used_at"] is not None
    assert listed["used"]["last_used_at"] >= created["key"]["created_at"]
