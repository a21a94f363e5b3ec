"""Sessions over real HTTP: list, read with pagination, rename, delete, export."""

from __future__ import annotations

import httpx

from tests.integration.live_servers import LiveGateway, create_key_for
from tests.integration.test_chat_errors import assert_error
from thinkingthoughts.access.api_keys import Scope


def _new_session(client: httpx.Client, text: str) -> str:
    response = client.post("/api/chat", json={"message": text})
    assert response.status_code == 200
    return str(response.json()["session_id"])


def test_sessions_are_listed_newest_activity_first_with_pagination(admin: httpx.Client) -> None:
    first = _new_session(admin, "first")
    second = _new_session(admin, "second")
    third = _new_session(admin, "third")
    admin.post("/api/chat", json={"message": "back to the first", "session_id": first})

    page = admin.get("/api/sessions", params={"limit": 2}).json()
    assert page["total"] == 3
    assert [s["id"] for s in page["data"]] == [first, third]
    rest = admin.get("/api/sessions", params={"limit": 2, "offset": 2}).json()
    assert [s["id"] for s in rest["data"]] == [second]
    assert page["data"][1]["title"] == "third"
    assert page["data"][1]["persona"] == "seline"


def test_reading_a_session_pages_through_its_messages_in_order(admin: httpx.Client) -> None:
    session_id = _new_session(admin, "one")
    admin.post("/api/chat", json={"message": "two", "session_id": session_id})

    head = admin.get(f"/api/sessions/{session_id}", params={"limit": 2}).json()
    tail = admin.get(f"/api/sessions/{session_id}", params={"limit": 2, "offset": 4}).json()
    assert head["messages_total"] == 5
    assert [m["seq"] for m in head["messages"]] == [1, 2]
    assert [m["seq"] for m in tail["messages"]] == [5]
    assert tail["messages"][0]["role"] == "assistant"


def test_rename_and_delete(admin: httpx.Client) -> None:
    session_id = _new_session(admin, "to be renamed")
    renamed = admin.patch(f"/api/sessions/{session_id}", json={"title": "  Tea talk "})
    assert renamed.status_code == 200
    assert renamed.json()["title"] == "Tea talk"
    assert_error(admin.patch(f"/api/sessions/{session_id}", json={"title": ""}), 422)

    assert admin.delete(f"/api/sessions/{session_id}").status_code == 204
    assert_error(admin.get(f"/api/sessions/{session_id}"), 404, "session_not_found")
    assert_error(admin.delete(f"/api/sessions/{session_id}"), 404)


def test_export_as_markdown_and_json(admin: httpx.Client) -> None:
    session_id = _new_session(admin, "export me")

    markdown = admin.get(f"/api/sessions/{session_id}/export")
    assert markdown.status_code == 200
    assert markdown.headers["content-type"].startswith("text/markdown")
    assert "attachment" in markdown.headers["content-disposition"]
    assert "**You**\n\nexport me" in markdown.text
    assert "**Seline**" in markdown.text

    document = admin.get(f"/api/sessions/{session_id}/export", params={"format": "json"}).json()
    assert [m["role"] for m in document["messages"]] == ["assistant", "user", "assistant"]
    assert document["persona"] == "seline"
    assert_error(admin.get(f"/api/sessions/{session_id}/export", params={"format": "pdf"}), 422)


def test_pagination_bounds_are_validated(admin: httpx.Client) -> None:
    assert_error(admin.get("/api/sessions", params={"limit": 0}), 422)
    assert_error(admin.get("/api/sessions", params={"offset": -1}), 422)


def test_a_read_key_reads_but_does_not_change(gateway: LiveGateway) -> None:
    read_key = create_key_for(gateway, Scope.READ)
    with gateway.client(read_key) as reader:
        assert reader.get("/api/sessions").status_code == 200
        assert_error(reader.post("/api/chat", json={"message": "hi"}), 403, "permission_denied")
