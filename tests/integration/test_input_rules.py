"""The text and number rules at the edge, against live gateways on SQLite and PostgreSQL.

A NUL or a lone surrogate anywhere a client sends text, an integer beyond 64 bits, a
boolean where a number is declared, or a non-finite float is refused with the field named:
422 in the native shape, 400 in OpenAI's with `param` on `/v1`; and nothing is stored.
Bodies are sent as raw JSON text, since a lone surrogate cannot be encoded as UTF-8.
"""

from __future__ import annotations

from typing import Any

import httpx

from tests.integration.live_servers import ThreadedSimulator

NUL = "\\u0000"
LONE_SURROGATE = "\\ud800"
BEYOND_64_BITS = str(2**63)
LARGEST_64_BIT = 2**63 - 1
ANY_OTHER_TEXT = "emoji 😀, CJK 漢字, RTL עברית, controls \x01\x1f\x7f, U+FFFD \ufffd, \U0010ffff"


def post_json_text(
    client: httpx.Client, path: str, body: str, headers: dict[str, str] | None = None
) -> httpx.Response:
    headers = {"content-type": "application/json", **(headers or {})}
    return client.post(path, content=body.encode(), headers=headers)


def send_json_text(client: httpx.Client, method: str, path: str, body: str) -> httpx.Response:
    return client.request(
        method, path, content=body.encode(), headers={"content-type": "application/json"}
    )


def assert_native_refusal(response: httpx.Response, field: str) -> None:
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_request"
    assert field in error["message"]


def assert_openai_refusal(response: httpx.Response, param: str) -> None:
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert (error["type"], error["param"]) == ("invalid_request_error", param)


def stored_state(admin: httpx.Client) -> dict[str, Any]:
    """What a refused request must leave as it was: sessions, personas, keys."""
    sessions = admin.get("/api/sessions").json()
    personas = admin.get("/api/personas").json()["data"]
    keys = admin.get("/api/keys").json()["data"]
    return {
        "sessions": [(s["id"], s["title"], s["message_count"]) for s in sessions["data"]],
        "personas": sorted((p["slug"], p["version"]) for p in personas),
        "keys": sorted((k["id"], k["name"]) for k in keys),
    }


def test_bad_text_in_any_native_body_is_refused_naming_the_field_and_nothing_is_stored(
    admin: httpx.Client,
) -> None:
    session_id = admin.post("/api/chat", json={"message": "hello"}).json()["session_id"]
    admin.post("/api/personas", json={"name": "Mira", "slug": "mira"}).raise_for_status()
    before = stored_state(admin)
    for bad in (NUL, LONE_SURROGATE):
        for method, path, body, field in native_requests_with(bad, session_id):
            assert_native_refusal(send_json_text(admin, method, path, body), field)
    assert stored_state(admin) == before

    # Every other character is text like any other, stored as sent.
    reply = admin.post("/api/chat", json={"session_id": session_id, "message": ANY_OTHER_TEXT})
    renamed = admin.patch(f"/api/sessions/{session_id}", json={"title": ANY_OTHER_TEXT})
    stored = admin.get(f"/api/sessions/{session_id}").json()
    assert (reply.status_code, renamed.status_code) == (200, 200), reply.text + renamed.text
    assert stored["title"] == ANY_OTHER_TEXT
    assert stored["messages"][-2]["content"] == ANY_OTHER_TEXT


def native_requests_with(bad: str, session_id: str) -> list[tuple[str, str, str, str]]:
    """Requests with `bad` text in each kind of place, and the field the error names."""
    return [
        ("POST", "/api/chat", f'{{"message": "a{bad}b"}}', "message"),
        ("POST", "/api/chat", f'{{"session_id": "{session_id}", "message": "x{bad}"}}', "message"),
        ("POST", "/api/chat", f'{{"session_id": "s{bad}", "message": "hi"}}', "session_id"),
        ("POST", "/api/chat", f'{{"persona": "p{bad}", "message": "hi"}}', "persona"),
        (
            "POST",
            "/api/chat",
            f'{{"messages": [{{"role": "user", "content": "{bad}"}}]}}',
            "messages.0.content",
        ),
        ("POST", "/api/chat", f'{{"message": "hi", "traits": {{"warmth{bad}": 3}}}}', "traits"),
        ("PATCH", f"/api/sessions/{session_id}", f'{{"title": "t{bad}"}}', "title"),
        ("POST", "/api/personas", f'{{"name": "N{bad}", "slug": "nul"}}', "name"),
        (
            "POST",
            "/api/personas",
            f'{{"name": "N", "slug": "nul", "interests": ["{bad}"]}}',
            "interests.0",
        ),
        (
            "POST",
            "/api/personas",
            f'{{"name": "N", "slug": "nul", "appearance": {{"h{bad}": "x"}}}}',
            "appearance",
        ),
        (
            "PUT",
            "/api/personas/mira",
            f'{{"name": "Mira", "slug": "mira", "tone": "{bad}"}}',
            "tone",
        ),
        ("PATCH", "/api/personas/mira", f'{{"greeting": "hi{bad}"}}', "greeting"),
        ("POST", "/api/personas/mira/preview", f'{{"traits": {{"warmth": "{bad}"}}}}', "traits"),
        ("POST", "/api/keys", f'{{"name": "k{bad}"}}', "name"),
        ("POST", "/api/keys", f'{{"name": "k", "owner": "o{bad}"}}', "owner"),
        (
            "POST",
            "/api/keys",
            f'{{"name": "k", "allowed_personas": ["{bad}"]}}',
            "allowed_personas.0",
        ),
    ]


def test_nul_in_an_id_or_ref_of_the_path_is_refused(admin: httpx.Client) -> None:
    cases = [
        ("GET", "/api/sessions/a%00b"),
        ("GET", "/api/sessions/a%00b/export"),
        ("PATCH", "/api/sessions/a%00b"),
        ("DELETE", "/api/sessions/a%00b"),
        ("GET", "/api/personas/a%00b"),
        ("PUT", "/api/personas/a%00b"),
        ("PATCH", "/api/personas/a%00b"),
        ("DELETE", "/api/personas/a%00b"),
        ("POST", "/api/personas/a%00b/preview"),
        ("GET", "/api/keys/a%00b/usage"),
        ("PATCH", "/api/keys/a%00b"),
        ("DELETE", "/api/keys/a%00b"),
        ("POST", "/api/keys/a%00b/rotate"),
    ]
    bodies = {"PUT": {"name": "N", "slug": "n"}, "PATCH": {"title": "t", "name": "n"}}
    for method, path in cases:
        response = admin.request(method, path, json=bodies.get(method))
        assert_native_refusal(response, "session_id" if "/sessions/" in path else "ref")


def test_bad_text_in_a_v1_body_is_a_400_with_param_and_nothing_is_stored(
    admin: httpx.Client,
) -> None:
    before = stored_state(admin)
    message = '{"role": "user", "content": "hi"}'
    cases = [
        (body, param)
        for bad in (NUL, LONE_SURROGATE)
        for body, param in v1_bodies_with(bad, message)
    ]
    for body, param in cases:
        response = post_json_text(
            admin, "/v1/chat/completions", body, headers={"x-session-id": "new"}
        )
        assert_openai_refusal(response, param)
    assert_openai_refusal(admin.get("/v1/models/persona:a%00b"), "model_id")
    assert stored_state(admin) == before


def v1_bodies_with(bad: str, message: str) -> list[tuple[str, str]]:
    """Bodies with `bad` text in each kind of place, and the `param` that names it."""
    return [
        (
            f'{{"model": "persona:seline", "messages": [{{"role": "user", "content": "a{bad}"}}]}}',
            "messages.0.content",
        ),
        (
            '{"model": "persona:seline", "messages": [{"role": "user", "content": '
            f'[{{"type": "text", "text": "{bad}"}}]}}]}}',
            "messages.0.content.0.text",
        ),
        (f'{{"model": "persona:seline{bad}", "messages": [{message}]}}', "model"),
        (f'{{"model": "persona:seline", "messages": [{message}], "user": "u{bad}"}}', "user"),
        (f'{{"model": "persona:seline", "messages": [{message}], "stop": ["{bad}"]}}', "stop.0"),
        (
            f'{{"model": "persona:seline", "messages": [{message}], "metadata": {{"k{bad}": 1}}}}',
            "metadata",
        ),
    ]


def test_offset_beyond_64_bits_is_refused_and_the_largest_one_reads_an_empty_page(
    admin: httpx.Client,
) -> None:
    session_id = admin.post("/api/chat", json={"message": "hello"}).json()["session_id"]
    for url, page in (("/api/sessions", "data"), (f"/api/sessions/{session_id}", "messages")):
        refused = admin.get(url, params={"offset": BEYOND_64_BITS})
        largest = admin.get(url, params={"offset": LARGEST_64_BIT})

        assert_native_refusal(refused, "offset")
        assert largest.status_code == 200, largest.text
        assert (largest.json()["offset"], largest.json()[page]) == (LARGEST_64_BIT, [])


V1_NUMBERS_REFUSED = [
    (f'"seed": {BEYOND_64_BITS}', "seed"),
    (f'"seed": -{2**63 + 1}', "seed"),
    (f'"max_tokens": {BEYOND_64_BITS}', "max_tokens"),
    ('"max_tokens": true', "max_tokens"),
    ('"max_tokens": 0', "max_tokens"),
    ('"max_completion_tokens": false', "max_completion_tokens"),
    (f'"logit_bias": {{"50256": {BEYOND_64_BITS}}}', "logit_bias.50256"),
    ('"logit_bias": {"50256": 101}', "logit_bias.50256"),
    ('"logit_bias": {"50256": true}', "logit_bias.50256"),
    ('"temperature": 1e400', "temperature"),
    ('"temperature": NaN', "temperature"),
    ('"temperature": true', "temperature"),
    ('"top_p": 1.5', "top_p"),
    ('"presence_penalty": -2.5', "presence_penalty"),
    ('"top_logprobs": 21', "top_logprobs"),
    ('"n": true', "n"),
    (f'"any_extra_field": {BEYOND_64_BITS}', "any_extra_field"),
    ('"any_extra_field": -1e400', "any_extra_field"),
    ('"any_extra_field": {"nested": [Infinity]}', "any_extra_field.nested.0"),
]
"""Fields of a `/v1/chat/completions` body, each out of its range, and the `param` named."""


def test_v1_numbers_beyond_their_range_are_400_naming_the_field_and_those_within_forwarded(
    admin: httpx.Client, simulator: ThreadedSimulator
) -> None:
    head = '{"model": "persona:seline", "messages": [{"role": "user", "content": "hi"}]'
    for fields, param in V1_NUMBERS_REFUSED:
        body = f"{head}, {fields}}}"
        assert_openai_refusal(post_json_text(admin, "/v1/chat/completions", body), param)
    at_the_edge = {
        "seed": LARGEST_64_BIT,
        "max_tokens": 5,
        "logit_bias": {"50256": -100, "15": 100},
        "temperature": 2,
        "custom_sampler_option": -(2**63),
        "vendor": {"ratio": 0.25, "flag": True},
    }
    within: dict[str, Any] = {
        "model": "persona:seline",
        "messages": [{"role": "user", "content": "hi"}],
        **at_the_edge,
    }

    response = admin.post("/v1/chat/completions", json=within)

    assert response.status_code == 200, response.text
    upstream = simulator.recorded_requests()[-1]
    assert {name: upstream[name] for name in at_the_edge} == at_the_edge


NATIVE_NUMBERS_REFUSED = [
    ('"max_tokens": true', "max_tokens"),
    (f'"max_tokens": {BEYOND_64_BITS}', "max_tokens"),
    ('"temperature": 1e400', "temperature"),
    ('"temperature": true', "temperature"),
    ('"top_p": NaN', "top_p"),
    (f'"traits": {{"warmth": {BEYOND_64_BITS}}}', "traits.warmth"),
]
"""Fields of a `/api/chat` body, each out of its range, and the field named."""


def test_native_numbers_out_of_range_are_422_naming_the_field(admin: httpx.Client) -> None:
    for fields, field in NATIVE_NUMBERS_REFUSED:
        body = f'{{"message": "hi", {fields}}}'
        assert_native_refusal(post_json_text(admin, "/api/chat", body), field)
    assert admin.get("/api/sessions").json()["total"] == 0


def test_key_limits_and_expiry_refuse_booleans(admin: httpx.Client) -> None:
    for fields, field in [
        ('"expires_in_days": true', "expires_in_days"),
        ('"requests_per_minute": true', "requests_per_minute"),
    ]:
        body = f'{{"name": "k", {fields}}}'
        assert_native_refusal(post_json_text(admin, "/api/keys", body), field)


def test_a_blank_title_is_refused_and_a_title_is_stored_without_surrounding_spaces(
    admin: httpx.Client,
) -> None:
    session_id = admin.post("/api/chat", json={"message": "hello"}).json()["session_id"]
    renamed = admin.patch(f"/api/sessions/{session_id}", json={"title": "  Trip plans  "})

    for title in ("", "   ", "\t\n "):
        response = admin.patch(f"/api/sessions/{session_id}", json={"title": title})
        assert_native_refusal(response, "title")

    assert renamed.json()["title"] == "Trip plans"
    assert admin.get(f"/api/sessions/{session_id}").json()["title"] == "Trip plans"
