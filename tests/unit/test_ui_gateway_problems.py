"""How the page's client reads the gateway's answers: request bodies, errors, waits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from thinkingthoughts.ui.gateway import chat_request_body
from thinkingthoughts.ui.gateway_problems import (
    GatewayProblem,
    problem_for,
    problem_for_error_event,
    retry_after_seconds,
)
from thinkingthoughts.ui.problems import problem_text
from thinkingthoughts.ui.strings import EN, FR


def native_error(error_type: str, message: str, code: str) -> dict[str, object]:
    return {"error": {"type": error_type, "message": message, "code": code}}


def test_a_chat_body_sends_only_what_is_set() -> None:
    assert chat_request_body(message="Hi") == {"stream": True, "message": "Hi"}
    body = chat_request_body(
        message="Hi",
        persona="tutor",
        traits={"tone": 4},
        temperature=0.0,
        max_tokens=64,
        session_id="s1",
        model="m2",
    )
    assert body == {
        "stream": True,
        "message": "Hi",
        "persona": "tutor",
        "traits": {"tone": 4},
        "temperature": 0.0,
        "max_tokens": 64,
        "session_id": "s1",
        "model": "m2",
    }


def test_a_regeneration_sends_no_message() -> None:
    body = chat_request_body(message="ignored", session_id="s1", regenerate=True)
    assert body == {"stream": True, "regenerate": True, "session_id": "s1"}


@pytest.mark.parametrize(
    ("status", "body", "kind"),
    [
        (
            401,
            native_error("authentication_error", "the API key is not valid", "x"),
            "unauthorized",
        ),
        (403, native_error("permission_error", "no", "permission_denied"), "forbidden"),
        (404, native_error("not_found_error", "no session 's'", "session_not_found"), "gone"),
        (409, native_error("conflict_error", "slug taken", "conflict"), "conflict"),
        (413, native_error("invalid_request_error", "too long", "message_too_long"), "too_long"),
        (422, native_error("invalid_request_error", "traits.tone: bad", "x"), "invalid"),
        (429, native_error("rate_limit_error", "slow down", "rate_limited"), "rate_limited"),
        (502, native_error("upstream_error", "bad gateway", "upstream_error"), "upstream"),
        (503, native_error("upstream_error", "down", "upstream_unavailable"), "upstream"),
        (504, native_error("upstream_error", "slow", "upstream_timeout"), "upstream"),
        (503, None, "upstream"),
        (503, native_error("service_unavailable_error", "no redis", "x"), "unavailable"),
        (500, native_error("internal_error", "oops", "internal_error"), "unexpected"),
        (418, "not json", "unexpected"),
    ],
)
def test_each_status_is_one_kind_of_problem(status: int, body: object, kind: str) -> None:
    problem = problem_for(status, body)
    assert problem.kind == kind
    assert problem.status == status


def test_the_gateways_message_is_kept_as_detail() -> None:
    body = native_error("invalid_request_error", "traits.tone: level must be 1..5", "x")
    problem = problem_for(422, body)
    assert problem.detail == "traits.tone: level must be 1..5"
    assert problem.code == "x"
    assert "traits.tone: level must be 1..5" in problem.message


def test_a_rate_limit_says_how_long_to_wait() -> None:
    problem = problem_for(429, None, retry_after=41.2)
    assert problem.retry_after == 41.2
    assert "wait 42 seconds" in problem.message
    assert "wait a moment" in problem_for(429, None).message


def test_retry_after_in_seconds_or_as_a_date() -> None:
    assert retry_after_seconds("12") == 12.0
    assert retry_after_seconds(None) is None
    assert retry_after_seconds("soon") is None
    now = datetime(2026, 1, 1, tzinfo=UTC)
    later = format_datetime(now + timedelta(seconds=30), usegmt=True)
    assert retry_after_seconds(later, now=now.timestamp()) == 30.0
    assert retry_after_seconds(format_datetime(now, usegmt=True), now=now.timestamp() + 5) == 0


@pytest.mark.parametrize(
    ("error_type", "code", "kind"),
    [
        ("upstream_error", "upstream_error", "upstream"),
        ("upstream_error", "upstream_timeout", "upstream"),
        ("rate_limit_error", "rate_limited", "rate_limited"),
        ("invalid_request_error", "context_length_exceeded", "too_long"),
        ("invalid_request_error", "invalid_request", "invalid"),
        ("internal_error", "internal_error", "unexpected"),
    ],
)
def test_error_events_of_a_stream_are_problems_too(error_type: str, code: str, kind: str) -> None:
    assert problem_for_error_event(native_error(error_type, "m", code)).kind == kind


def test_problems_are_told_in_the_pages_language() -> None:
    refused = GatewayProblem("unreachable", "x", code="refused")
    assert problem_text(refused, EN, url="http://gw:1") == (
        "The gateway cannot be reached at http://gw:1. Is it running?"
    )
    assert "injoignable à http://gw:1" in problem_text(refused, FR, url="http://gw:1")
    slow = GatewayProblem("unreachable", "x", code="timeout")
    assert problem_text(slow, EN, url="u") == "The gateway at u did not answer in time."
    wait = GatewayProblem("rate_limited", "x", 2.5)
    assert problem_text(wait, EN, url="u") == "Too many requests: wait 3 s and try again."


def test_the_gateways_reason_follows_where_it_helps() -> None:
    invalid = problem_for(422, native_error("invalid_request_error", "name: too long", "x"))
    assert problem_text(invalid, EN, url="u") == (
        "The gateway refused the request. (name: too long)"
    )
    refused_key = problem_for(401, native_error("authentication_error", "not valid", "x"))
    assert problem_text(refused_key, EN, url="u") == "The API key was refused by the gateway."
