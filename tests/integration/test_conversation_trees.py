"""Conversations as trees over real HTTP against the simulator: swipes, branches, edits,
select, fork, the whole tree, exports, and session ids a client chooses."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from tests.integration.live_servers import LiveGateway, ThreadedSimulator, create_key_for
from tests.integration.test_chat_errors import assert_error
from thinkingthoughts.access.api_keys import Scope


def _chat(client: httpx.Client, **body: Any) -> dict[str, Any]:
    response = client.post("/api/chat", json=body)
    assert response.status_code == 200, response.text
    return dict(response.json())


def _path(client: httpx.Client, session_id: str, **params: Any) -> list[dict[str, Any]]:
    response = client.get(f"/api/sessions/{session_id}", params=params)
    assert response.status_code == 200, response.text
    return list(response.json()["messages"])


def _sent_contents(simulator: ThreadedSimulator) -> list[str]:
    """What the upstream received last, after the system prompt."""
    return [m["content"] for m in simulator.recorded_requests()[-1]["messages"][1:]]


def test_regenerate_keeps_every_reply_as_a_sibling(admin: httpx.Client) -> None:
    first = _chat(admin, message="Name a colour")
    session_id = first["session_id"]
    second = _chat(admin, session_id=session_id, regenerate=True)
    third = _chat(admin, session_id=session_id, regenerate=True)

    path = _path(admin, session_id)
    reply = path[-1]
    assert [m["role"] for m in path] == ["assistant", "user", "assistant"]
    assert reply["id"] == third["message_id"]
    assert reply["sibling_ids"] == [first["message_id"], second["message_id"], third["message_id"]]
    assert (reply["sibling_index"], reply["sibling_count"]) == (2, 3)
    assert reply["parent_id"] == path[1]["id"] == third["user_message_id"] == third["parent_id"]
    assert (path[0]["parent_id"], path[0]["sibling_count"]) == (None, 1)

    whole = admin.get(f"/api/sessions/{session_id}", params={"tree": "true"}).json()
    assert whole["messages_total"] == 5
    assert whole["message_count"] == 3
    assert whole["active_leaf_id"] == third["message_id"]
    assert [(m["id"], m["on_active_path"]) for m in whole["messages"]][2:] == [
        (first["message_id"], False),
        (second["message_id"], False),
        (third["message_id"], True),
    ]


def test_a_parent_id_branches_and_the_upstream_receives_the_active_path(
    admin: httpx.Client, simulator: ThreadedSimulator
) -> None:
    first = _chat(admin, message="first question")
    session_id = first["session_id"]
    _chat(admin, session_id=session_id, message="second question")

    branched = _chat(
        admin, session_id=session_id, message="another second", parent_id=first["message_id"]
    )

    sent = _sent_contents(simulator)
    assert "second question" not in sent
    assert sent[-2:] == [first["assistant"], "another second"]
    path = _path(admin, session_id)
    assert [m["content"] for m in path][1:4] == [
        "first question",
        first["assistant"],
        "another second",
    ]
    assert path[-1]["id"] == branched["message_id"]
    assert path[3]["sibling_count"] == 2
    assert path[3]["id"] == branched["user_message_id"] == branched["parent_id"]


def test_editing_the_first_message_makes_a_new_root(
    admin: httpx.Client, simulator: ThreadedSimulator
) -> None:
    first = _chat(admin, message="a typo'd question")
    session_id = first["session_id"]
    greeting = _path(admin, session_id)[0]

    edited = _chat(admin, session_id=session_id, message="the question", parent_id="root")

    path = _path(admin, session_id)
    assert [m["content"] for m in path] == ["the question", edited["assistant"]]
    assert path[0]["parent_id"] is None
    assert path[0]["sibling_ids"] == [greeting["id"], path[0]["id"]]
    assert _sent_contents(simulator) == ["the question"]
    # An edit of a message after the greeting is a sibling under the greeting.
    _chat(admin, session_id=session_id, message="asked again", parent_id=greeting["id"])
    path = _path(admin, session_id)
    assert [m["content"] for m in path][:2] == [greeting["content"], "asked again"]
    assert path[1]["sibling_count"] == 2


def test_select_moves_the_active_path_down_to_the_newest_leaf(admin: httpx.Client) -> None:
    first = _chat(admin, message="q1")
    session_id = first["session_id"]
    later = _chat(admin, session_id=session_id, message="q2")
    again = _chat(admin, session_id=session_id, regenerate=True, parent_id=first["user_message_id"])

    selected = admin.post(f"/api/sessions/{session_id}/messages/{first['message_id']}/select")

    assert selected.status_code == 200, selected.text
    document = selected.json()
    assert document["active_leaf_id"] == later["message_id"]
    assert [m["id"] for m in document["messages"]][2:] == [
        first["message_id"],
        later["user_message_id"],
        later["message_id"],
    ]
    assert document["message_count"] == 5
    back = admin.post(f"/api/sessions/{session_id}/messages/{again['message_id']}/select").json()
    assert back["active_leaf_id"] == again["message_id"]
    assert back["message_count"] == 3


def test_select_refuses_a_message_of_another_session(admin: httpx.Client) -> None:
    mine = _chat(admin, message="mine")["session_id"]
    other = _chat(admin, message="other")

    assert_error(
        admin.post(f"/api/sessions/{mine}/messages/{other['message_id']}/select"),
        404,
        "message_not_found",
    )
    assert_error(
        admin.post(f"/api/sessions/{uuid.uuid4()}/messages/{other['message_id']}/select"),
        404,
        "session_not_found",
    )


def test_fork_copies_the_path_into_a_new_session(admin: httpx.Client) -> None:
    first = _chat(admin, message="keep this", traits={"tone": 4})
    session_id = first["session_id"]
    _chat(admin, session_id=session_id, message="not this")

    forked = admin.post(
        f"/api/sessions/{session_id}/fork", json={"message_id": first["message_id"]}
    )

    assert forked.status_code == 201, forked.text
    copy = forked.json()
    source = admin.get(f"/api/sessions/{session_id}").json()
    assert copy["id"] != session_id
    assert (copy["title"], copy["persona"], copy["traits"]) == (
        source["title"],
        source["persona"],
        source["traits"],
    )
    assert [m["content"] for m in copy["messages"]] == [
        m["content"] for m in source["messages"][:3]
    ]
    assert not {m["id"] for m in copy["messages"]} & {m["id"] for m in source["messages"]}
    assert [m["parent_id"] for m in copy["messages"]] == [None] + [
        m["id"] for m in copy["messages"][:-1]
    ]
    assert copy["message_count"] == 3
    assert copy["active_leaf_id"] == copy["messages"][-1]["id"]
    continued = _chat(admin, session_id=copy["id"], message="onwards")
    assert _path(admin, copy["id"])[-1]["id"] == continued["message_id"]


def test_fork_refuses_what_is_not_the_callers(gateway: LiveGateway, admin: httpx.Client) -> None:
    session_id = _chat(admin, message="private")["session_id"]
    message_id = _path(admin, session_id)[-1]["id"]
    other_key = create_key_for(gateway, Scope.CHAT, Scope.READ)
    sessions_before = admin.get("/api/sessions").json()["total"]

    with gateway.client(other_key) as other:
        assert_error(
            other.post(f"/api/sessions/{session_id}/fork", json={"message_id": message_id}),
            404,
            "session_not_found",
        )
    assert_error(
        admin.post(f"/api/sessions/{session_id}/fork", json={"message_id": "nope"}),
        404,
        "message_not_found",
    )
    assert admin.get("/api/sessions").json()["total"] == sessions_before


def test_a_parent_outside_the_session_or_a_reply_to_regenerate_is_refused(
    admin: httpx.Client,
) -> None:
    first = _chat(admin, message="hello")
    session_id = first["session_id"]

    assert_error(
        admin.post(
            "/api/chat", json={"session_id": session_id, "message": "x", "parent_id": "nope"}
        ),
        404,
        "message_not_found",
    )
    assert_error(
        admin.post(
            "/api/chat",
            json={"session_id": session_id, "regenerate": True, "parent_id": first["message_id"]},
        ),
        400,
        "nothing_to_regenerate",
    )
    whole = admin.get(f"/api/sessions/{session_id}", params={"tree": "true"}).json()
    assert whole["messages_total"] == 3


def test_the_stream_start_names_the_user_message_and_the_parent(admin: httpx.Client) -> None:
    with admin.stream("POST", "/api/chat", json={"message": "stream me", "stream": True}) as stream:
        body = stream.read().decode()
    start_line = next(line for line in body.splitlines() if line.startswith("data: {"))
    start = httpx.Response(200, content=start_line.removeprefix("data: ")).json()
    path = _path(admin, start["session_id"])
    assert start["user_message_id"] == start["parent_id"] == path[1]["id"]
    assert path[2]["id"] == start["message_id"]


def test_exports_show_the_active_path_and_json_its_alternatives(admin: httpx.Client) -> None:
    first = _chat(admin, message="which tea?")
    session_id = first["session_id"]
    second = _chat(admin, session_id=session_id, regenerate=True)

    markdown = admin.get(f"/api/sessions/{session_id}/export").text
    assert second["assistant"] in markdown
    assert markdown.count("**You**") == 1
    assert markdown.count("**Seline**") == 2  # the greeting and the active reply
    document = admin.get(f"/api/sessions/{session_id}/export", params={"format": "json"}).json()
    assert [m["content"] for m in document["messages"]][1:] == ["which tea?", second["assistant"]]
    [alternative] = document["messages"][2]["alternatives"]
    assert (alternative["seq"], alternative["content"]) == (3, first["assistant"])
    assert document["messages"][2]["seq"] == 4
    assert "alternatives" not in document["messages"][1]


def test_a_client_chosen_uuid_starts_a_session_with_that_id(
    gateway: LiveGateway, admin: httpx.Client
) -> None:
    chosen = str(uuid.uuid4())

    started = _chat(admin, session_id=chosen.upper(), message="my own id")
    continued = _chat(admin, session_id=chosen, message="and again")

    assert started["session_id"] == continued["session_id"] == chosen
    assert admin.get(f"/api/sessions/{chosen}").json()["message_count"] == 5
    other_key = create_key_for(gateway, Scope.CHAT, Scope.READ)
    with gateway.client(other_key) as other:
        assert_error(
            other.post("/api/chat", json={"session_id": chosen, "message": "mine?"}),
            404,
            "session_not_found",
        )
    assert_error(
        admin.post("/api/chat", json={"session_id": "my-session", "message": "hi"}),
        400,
        "invalid_session_id",
    )
    assert admin.get(f"/api/sessions/{chosen}").json()["message_count"] == 5


def test_concurrent_first_uses_of_one_new_id_share_one_session(gateway: LiveGateway) -> None:
    chosen = str(uuid.uuid4())
    together = threading.Barrier(2)

    def first_use(text: str) -> httpx.Response:
        with gateway.client(gateway.admin_key) as client:
            together.wait(timeout=10)
            return client.post("/api/chat", json={"session_id": chosen, "message": text})

    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(first_use, ["one", "two"]))

    assert [a.status_code for a in answers] == [200, 200], [a.text for a in answers]
    assert {a.json()["session_id"] for a in answers} == {chosen}
    with gateway.client(gateway.admin_key) as client:
        whole = client.get(f"/api/sessions/{chosen}", params={"tree": "true"}).json()
        listed = client.get("/api/sessions").json()
    assert [m["role"] for m in whole["messages"]].count("assistant") == 3  # greeting + 2
    assert {m["content"] for m in whole["messages"] if m["role"] == "user"} == {"one", "two"}
    assert [s["id"] for s in listed["data"]] == [chosen]


def test_x_session_id_uuid_starts_and_continues_a_session_on_v1(
    gateway: LiveGateway, admin: httpx.Client
) -> None:
    chosen = str(uuid.uuid4())
    headers = {"X-Session-Id": chosen}

    def complete(text: str, client: httpx.Client = admin) -> httpx.Response:
        return client.post(
            "/v1/chat/completions",
            json={"model": "persona:seline", "messages": [{"role": "user", "content": text}]},
            headers=headers,
        )

    first = complete("first")
    second = complete("second")

    assert (first.status_code, second.status_code) == (200, 200), second.text
    assert first.headers["X-Session-Id"] == second.headers["X-Session-Id"] == chosen
    path = _path(admin, chosen)
    assert [m["content"] for m in path][0::2] == ["first", "second"]
    assert [m["parent_id"] for m in path] == [None] + [m["id"] for m in path[:-1]]
    other_key = create_key_for(gateway, Scope.CHAT)
    with gateway.client(other_key) as other:
        refused = complete("mine?", other)
    assert refused.status_code == 404
    assert refused.json()["error"]["code"] == "session_not_found"
    headers["X-Session-Id"] = "not-a-uuid"
    malformed = complete("hi")
    assert malformed.status_code == 400
    assert malformed.json()["error"]["code"] == "invalid_session_id"
    assert len(_path(admin, chosen)) == 4


def test_v1_records_under_the_active_leaf_of_a_branched_session(admin: httpx.Client) -> None:
    first = _chat(admin, message="q1")
    session_id = first["session_id"]
    _chat(admin, session_id=session_id, message="q2")
    # A new reply to q1: the active path leaves q2 behind.
    swipe = _chat(admin, session_id=session_id, regenerate=True, parent_id=first["user_message_id"])

    answered = admin.post(
        "/v1/chat/completions",
        json={"model": "persona:seline", "messages": [{"role": "user", "content": "q3"}]},
        headers={"X-Session-Id": session_id},
    )

    assert answered.status_code == 200, answered.text
    path = _path(admin, session_id)
    assert [m["content"] for m in path if m["role"] == "user"] == ["q1", "q3"]
    assert path[3]["parent_id"] == swipe["message_id"]
