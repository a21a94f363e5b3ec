"""Keys with their own limits and allow-lists, and what each key has used.

`/api/keys` echoes a key's policy in canonical form and changes only what a PATCH sends;
`/api/keys/{ref}/usage` sums, per day, persona and model, exactly the usage the replies
reported, for the key itself or an admin, and nobody else.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.integration.live_servers import LiveGateway, ThreadedSimulator
from tests.integration.test_chat_errors import assert_error
from tests.integration.test_chat_streaming import sse_events, wait_until
from tests.integration.test_tenancy import HELLO, SIM_MODEL, completion, new_key

POLICY_FIELDS = (
    "requests_per_minute",
    "tokens_per_minute",
    "concurrent_streams",
    "allowed_personas",
    "allowed_models",
)
DEFAULT_POLICY: dict[str, Any] = dict.fromkeys(POLICY_FIELDS)
KEY_FIELDS = {
    "id", "name", "prefix", "scopes", "owner", "created_at", "last_used_at", "expires_at",
    "revoked_at", "active", *POLICY_FIELDS,
}  # fmt: skip
Figures = dict[str, int]
Tenant = tuple[httpx.Client, dict[str, Any]]
"""A key's client and the key as the API shows it."""


def policy_of(key: dict[str, Any]) -> dict[str, Any]:
    return {name: key[name] for name in POLICY_FIELDS}


def key_entry(admin: httpx.Client, key_id: str) -> dict[str, Any]:
    """The key as the admin list shows it."""
    listed: list[dict[str, Any]] = admin.get("/api/keys").json()["data"]
    return next(k for k in listed if k["id"] == key_id)


def create(admin: httpx.Client, **fields: Any) -> dict[str, Any]:
    """A new key through the API: {"key": ..., "secret": ...}."""
    response = admin.post("/api/keys", json={"name": "metered", "scopes": ["chat"], **fields})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def usage(client: httpx.Client, ref: str = "me", **params: Any) -> dict[str, Any]:
    response = client.get(f"/api/keys/{ref}/usage", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def figures(usage_body: dict[str, Any] | None) -> Figures:
    """prompt/completion tokens of a reply's `usage`."""
    assert usage_body is not None
    return {
        "prompt_tokens": int(usage_body["prompt_tokens"]),
        "completion_tokens": int(usage_body["completion_tokens"]),
    }


def openai_stream_usage(response: httpx.Response) -> dict[str, Any] | None:
    """The `usage` of the last chunk of a /v1 stream that asked for it."""
    found = None
    for line in response.iter_lines():
        if line.startswith("data:") and line != "data: [DONE]":
            chunk = json.loads(line.partition(":")[2])
            assert "error" not in chunk, chunk
            found = chunk.get("usage") or found
    return found


# Keys API: limits and allow-lists


def test_a_new_key_echoes_its_limits_and_canonical_allow_lists(
    gateway: LiveGateway, admin: httpx.Client
) -> None:
    created = create(
        admin,
        requests_per_minute=10,
        tokens_per_minute=5000,
        concurrent_streams=0,
        allowed_personas=[" tutor", "seline", "tutor ", "seline"],
        allowed_models=["b-model", "a-model", "a-model"],
    )
    expected = {
        "requests_per_minute": 10,
        "tokens_per_minute": 5000,
        "concurrent_streams": 0,
        "allowed_personas": ["seline", "tutor"],
        "allowed_models": ["a-model", "b-model"],
    }
    assert policy_of(created["key"]) == expected
    assert policy_of(key_entry(admin, created["key"]["id"])) == expected
    with gateway.client(created["secret"]) as client:
        assert policy_of(client.get("/api/keys/me").json()) == expected


def test_a_key_made_without_a_policy_has_the_defaults(admin: httpx.Client) -> None:
    assert policy_of(create(admin)["key"]) == DEFAULT_POLICY
    explicit_nulls = create(admin, **DEFAULT_POLICY)
    assert policy_of(explicit_nulls["key"]) == DEFAULT_POLICY


def test_an_empty_allow_list_is_kept_and_allows_nothing(
    gateway: LiveGateway, admin: httpx.Client
) -> None:
    created = create(admin, allowed_personas=[])
    assert created["key"]["allowed_personas"] == []
    with gateway.client(created["secret"]) as client:
        assert client.get("/api/personas").json()["data"] == []
        assert_error(client.post("/api/chat", json={"message": "hi"}), 403, "persona_not_allowed")


def test_patch_changes_only_the_fields_sent(admin: httpx.Client) -> None:
    key = create(
        admin,
        name="steady",
        requests_per_minute=10,
        allowed_personas=["tutor"],
        tokens_per_minute=7,
    )["key"]
    ref = key["id"]

    changed = admin.patch(f"/api/keys/{ref}", json={"tokens_per_minute": 100})
    assert changed.status_code == 200, changed.text
    assert changed.json() == {**key, "tokens_per_minute": 100}

    renamed = admin.patch(f"/api/keys/{key['prefix']}", json={"name": "  renamed  "}).json()
    assert renamed == {**key, "tokens_per_minute": 100, "name": "renamed"}

    assert admin.patch(f"/api/keys/{ref}", json={}).json() == renamed
    assert key_entry(admin, ref) == renamed


def test_patch_with_null_resets_a_field_to_the_default(admin: httpx.Client) -> None:
    key = create(
        admin,
        requests_per_minute=10,
        concurrent_streams=3,
        allowed_personas=["tutor"],
        allowed_models=[SIM_MODEL],
    )["key"]
    reset = admin.patch(
        f"/api/keys/{key['id']}", json={"requests_per_minute": None, "allowed_personas": None}
    ).json()
    assert policy_of(reset) == {
        **DEFAULT_POLICY,
        "concurrent_streams": 3,
        "allowed_models": [SIM_MODEL],
    }
    # a null name is no change: a key always has a name
    assert admin.patch(f"/api/keys/{key['id']}", json={"name": None}).json()["name"] == key["name"]


def test_patch_puts_allow_lists_in_canonical_form(admin: httpx.Client) -> None:
    key = create(admin)["key"]
    changed = admin.patch(
        f"/api/keys/{key['id']}", json={"allowed_models": ["z ", "y", "z", " y "]}
    ).json()
    assert changed["allowed_models"] == ["y", "z"]


def test_patching_an_unknown_key_is_404(admin: httpx.Client) -> None:
    assert_error(
        admin.patch("/api/keys/no-such-key", json={"requests_per_minute": 5}), 404, "key_not_found"
    )


INVALID_POLICIES: list[dict[str, Any]] = [
    {"requests_per_minute": -1},
    {"tokens_per_minute": -100},
    {"concurrent_streams": -2},
    {"requests_per_minute": 1.5},
    {"tokens_per_minute": "lots"},
    {"concurrent_streams": [1]},
    {"requests_per_minute": 100_000_001},
    {"allowed_personas": [""]},
    {"allowed_personas": ["tutor", ""]},
    {"allowed_personas": "tutor"},
    {"allowed_models": [1]},
    {"allowed_models": {"model": True}},
    {"allowed_models": ["m" * 201]},
    {"allowed_personas": [f"p{n}" for n in range(201)]},
    {"tokens_per_minute": False},  # would read as 0: no limit at all
    {"requests_per_minute": True},
    {"concurrent_streams": "3"},
    {"allowed_personas": ["   "]},  # would leave a key allowed nothing, silently
]


def refusals(responses: dict[str, httpx.Response]) -> list[str]:
    """The requests not refused with 422 in the error shape."""
    wrong = []
    for body, response in responses.items():
        error = response.json().get("error", {}) if response.content else {}
        if response.status_code != 422 or error.get("code") != "invalid_request":
            wrong.append(f"{body}: {response.status_code} {response.text}")
    return wrong


def test_an_invalid_patch_is_422_and_changes_nothing(admin: httpx.Client) -> None:
    key = create(admin, requests_per_minute=10, allowed_personas=["tutor"])["key"]
    responses = {
        json.dumps(body): admin.patch(f"/api/keys/{key['id']}", json=body)
        for body in INVALID_POLICIES
    }
    assert refusals(responses) == []
    assert_error(next(iter(responses.values())), 422, "invalid_request")
    assert key_entry(admin, key["id"]) == key


def test_an_invalid_new_key_is_422_and_not_made(admin: httpx.Client) -> None:
    before = admin.get("/api/keys").json()["data"]
    responses = {
        json.dumps(body): admin.post(
            "/api/keys", json={"name": "invalid", "scopes": ["chat"], **body}
        )
        for body in INVALID_POLICIES
    }
    assert refusals(responses) == []
    assert_error(next(iter(responses.values())), 422, "invalid_request")
    assert admin.get("/api/keys").json()["data"] == before


@pytest.mark.parametrize("scope", ["read", "chat", "admin"])
def test_a_key_reads_itself_without_its_secret(
    gateway: LiveGateway, admin: httpx.Client, scope: str
) -> None:
    created = create(admin, scopes=[scope], owner="team-9", tokens_per_minute=900)
    with gateway.client(created["secret"]) as client:
        me = client.get("/api/keys/me")
    assert me.status_code == 200, me.text
    body = me.json()
    assert set(body) == KEY_FIELDS
    assert created["secret"] not in me.text
    assert (body["id"], body["scopes"], body["owner"], body["tokens_per_minute"]) == (
        created["key"]["id"],
        [scope],
        "team-9",
        900,
    )


def test_the_bootstrap_admin_key_reads_itself(admin: httpx.Client, gateway: LiveGateway) -> None:
    me = admin.get("/api/keys/me").json()
    assert gateway.admin_key.startswith(me["prefix"])
    assert me["scopes"] == ["admin"]
    assert gateway.admin_key not in json.dumps(me)


def test_rotation_keeps_limits_and_allow_lists(gateway: LiveGateway, admin: httpx.Client) -> None:
    old = create(
        admin,
        requests_per_minute=30,
        tokens_per_minute=3000,
        concurrent_streams=1,
        allowed_personas=["tutor"],
        allowed_models=[SIM_MODEL],
    )
    rotated = admin.post(f"/api/keys/{old['key']['prefix']}/rotate")
    assert rotated.status_code == 201, rotated.text
    new = rotated.json()
    assert policy_of(new["key"]) == policy_of(old["key"])
    with gateway.client(new["secret"]) as client:
        assert policy_of(client.get("/api/keys/me").json()) == policy_of(old["key"])
        assert_error(client.post("/api/chat", json={"message": "hi"}), 403, "persona_not_allowed")
        tutor = client.post("/api/chat", json={"message": "hi", "persona": "tutor"})
        assert tutor.status_code == 200, tutor.text


# Usage accounting


@pytest.fixture
def alice(gateway: LiveGateway, admin: httpx.Client) -> Iterator[Tenant]:
    created = create(admin, name="alice's app", owner="alice")
    with gateway.client(created["secret"]) as client:
        yield client, created["key"]


def chat_in_every_way(client: httpx.Client) -> Counter[tuple[str | None, str, str]]:
    """Six turns, native and /v1, whole and streamed, in sessions and stateless. Returns
    the reported tokens per (persona, model, kind), and the requests as kind 'requests'."""
    reported: Counter[tuple[str | None, str, str]] = Counter()

    def add(persona: str | None, model: str, counted: Figures) -> None:
        reported[(persona, model, "requests")] += 1
        for kind, tokens in counted.items():
            reported[(persona, model, kind)] += tokens

    native = client.post("/api/chat", json={"message": "one", "persona": "seline"})
    assert native.status_code == 200, native.text
    add("seline", native.json()["model"], figures(native.json()["usage"]))

    body = {"message": "two", "persona": "tutor", "stream": True}
    with client.stream("POST", "/api/chat", json=body) as streamed:
        events = list(sse_events(streamed))
    assert events[-1][0] == "done", events[-1]
    add("tutor", events[0][1]["model"], figures(events[-1][1]["usage"]))

    stateless = client.post("/api/chat", json={"messages": HELLO, "persona": "seline"})
    assert stateless.json()["session_id"] is None
    add("seline", stateless.json()["model"], figures(stateless.json()["usage"]))

    openai_persona = completion(client, "persona:tutor")
    assert openai_persona.status_code == 200, openai_persona.text
    add("tutor", SIM_MODEL, figures(openai_persona.json()["usage"]))

    openai_raw = completion(client, SIM_MODEL, session="new")
    assert openai_raw.status_code == 200, openai_raw.text
    add(None, SIM_MODEL, figures(openai_raw.json()["usage"]))

    stream_body = {
        "model": SIM_MODEL,
        "messages": HELLO,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    with client.stream("POST", "/v1/chat/completions", json=stream_body) as raw_stream:
        add(None, SIM_MODEL, figures(openai_stream_usage(raw_stream)))
    return reported


def wait_for_requests(client: httpx.Client, ref: str, count: int) -> dict[str, Any]:
    """The usage report once it counts `count` requests (streams settle after their end)."""
    wait_until(lambda: usage(client, ref)["totals"]["requests"] >= count)
    return usage(client, ref)


def test_usage_sums_what_the_replies_reported_per_persona_and_model(
    alice: Tenant,
) -> None:
    client, key = alice
    reported = chat_in_every_way(client)
    report = wait_for_requests(client, "me", 6)

    prompt = sum(n for (_, _, kind), n in reported.items() if kind == "prompt_tokens")
    completion_tokens = sum(
        n for (_, _, kind), n in reported.items() if kind == "completion_tokens"
    )
    assert completion_tokens > 0
    assert report["totals"] == {
        "requests": 6,
        "prompt_tokens": prompt,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt + completion_tokens,
    }
    rows = {(r["persona"], r["model"]): r for r in report["rows"]}
    assert set(rows) == {("seline", SIM_MODEL), ("tutor", SIM_MODEL), (None, SIM_MODEL)}
    for (persona, model), row in rows.items():
        expected = {
            kind: reported[(persona, model, kind)]
            for kind in ("requests", "prompt_tokens", "completion_tokens")
        }
        assert {kind: row[kind] for kind in expected} == expected
        assert row["total_tokens"] == row["prompt_tokens"] + row["completion_tokens"]
        assert row["requests"] == 2
    assert len({r["day"] for r in report["rows"]}) == 1
    assert report["rows"][0]["day"] >= report["since"]
    assert (report["key_id"], report["name"]) == (key["id"], "alice's app")


def test_a_key_reads_the_same_usage_by_id_prefix_and_me_and_an_admin_reads_it_too(
    alice: Tenant, admin: httpx.Client
) -> None:
    client, key = alice
    assert client.post("/api/chat", json={"message": "hi"}).status_code == 200

    def without_last_used(report: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in report.items() if k != "last_used_at"}

    mine = without_last_used(usage(client))
    assert mine["totals"]["requests"] == 1
    assert without_last_used(usage(client, key["id"])) == mine
    assert without_last_used(usage(client, key["prefix"])) == mine
    assert without_last_used(usage(admin, key["id"])) == mine
    assert without_last_used(usage(admin, key["prefix"])) == mine


def test_usage_of_one_key_is_not_in_anothers_and_not_readable_by_it(
    gateway: LiveGateway, admin: httpx.Client, alice: Tenant
) -> None:
    client, key = alice
    assert client.post("/api/chat", json={"message": "from alice"}).status_code == 200
    bob_key = create(admin, name="bob's app", owner="bob")
    with gateway.client(bob_key["secret"]) as bob:
        assert bob.post("/api/chat", json={"messages": HELLO}).status_code == 200
        for ref in (key["id"], key["prefix"], "no-such-key"):
            assert_error(bob.get(f"/api/keys/{ref}/usage"), 404, "key_not_found")
        bobs = usage(bob)
    assert bobs["key_id"] == bob_key["key"]["id"]
    assert bobs["totals"]["requests"] == 1
    assert usage(client)["totals"]["requests"] == 1
    assert usage(admin)["totals"]["requests"] == 0  # the admin's own key has not chatted


def test_a_read_key_reads_its_own_empty_usage(gateway: LiveGateway, admin: httpx.Client) -> None:
    secret = new_key(admin, scopes=("read",))
    with gateway.client(secret) as reader:
        report = usage(reader)
    assert report["rows"] == []
    assert report["totals"] == {
        "requests": 0,
        "prompt_tokens": 0,
        "completion_tokens": 0,
        "total_tokens": 0,
    }


def test_the_days_of_a_usage_report_are_validated(admin: httpx.Client) -> None:
    responses = {
        days: admin.get("/api/keys/me/usage", params={"days": days})
        for days in ("0", "-1", "367", "400", "a week")
    }
    assert refusals(responses) == []
    assert_error(responses["400"], 422, "invalid_request")


def test_a_usage_report_of_one_to_366_days_is_served(admin: httpx.Client) -> None:
    assert admin.post("/api/chat", json={"message": "hi"}).status_code == 200
    for days in (1, 366):
        report = usage(admin, days=days)
        assert report["totals"]["requests"] == 1
        assert report["rows"][0]["day"] >= report["since"]


def test_requests_refused_before_the_upstream_count_nothing(
    gateway: LiveGateway, admin: httpx.Client, simulator: ThreadedSimulator
) -> None:
    created = create(admin, allowed_personas=["tutor"])
    someone_elses = admin.post("/api/chat", json={"message": "mine"}).json()["session_id"]
    upstream_calls = len(simulator.recorded_requests())
    with gateway.client(created["secret"]) as client:
        refused = [
            client.post("/api/chat", json={"message": "hi", "persona": "nobody"}),
            client.post("/api/chat", json={"message": "hi", "persona": "seline"}),
            client.post(
                "/api/chat", json={"message": "hi", "persona": "tutor", "traits": {"x": 1}}
            ),
            client.post("/api/chat", json={"message": "hi", "session_id": someone_elses}),
            client.post("/api/chat", json={"messages": HELLO, "persona": "nobody", "stream": True}),
            completion(client, "persona:nobody"),
            completion(client, "no-such-model"),
            completion(client, "persona:seline", stream=True),
            completion(client, "persona:tutor", session=someone_elses),
            client.post("/api/chat", json={"message": "hi", "session_id": "no-such-session"}),
        ]
        assert [r.status_code for r in refused] == [
            404, 403, 422, 404, 404, 404, 404, 403, 404, 400,
        ]  # fmt: skip
        assert len(simulator.recorded_requests()) == upstream_calls
        assert usage(client)["totals"]["requests"] == 0

        answered = client.post("/api/chat", json={"message": "hi", "persona": "tutor"}).json()
        report = usage(client)
    assert report["totals"]["requests"] == 1
    assert [(r["persona"], r["requests"]) for r in report["rows"]] == [("tutor", 1)]
    assert report["totals"]["completion_tokens"] == answered["usage"]["completion_tokens"]
