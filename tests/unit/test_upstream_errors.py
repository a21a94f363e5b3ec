from __future__ import annotations

import pytest

from thinkingthoughts.errors import (
    ContextOverflowError,
    InvalidRequestError,
    RateLimitedError,
    UpstreamError,
    UpstreamUnavailableError,
)
from thinkingthoughts.upstream.errors import (
    error_for_upstream_status,
    parse_retry_after,
    upstream_error_message,
)

VLLM_OVERFLOW = {
    "object": "error",
    "message": "This model's maximum context length is 4096 tokens. However, you requested "
    "5000 tokens (4900 in the messages, 100 in the completion).",
    "type": "BadRequestError",
    "code": 400,
}


def test_vllm_context_overflow_becomes_413() -> None:
    error = error_for_upstream_status(400, VLLM_OVERFLOW, {})
    assert isinstance(error, ContextOverflowError)
    assert error.status_code == 413
    assert "4096" in error.message


def test_openai_shaped_overflow_is_recognised() -> None:
    body = {"error": {"message": "x", "code": "context_length_exceeded"}}
    body["error"]["message"] = "context_length_exceeded: too long"
    assert isinstance(error_for_upstream_status(400, body, {}), ContextOverflowError)


def test_upstream_429_keeps_its_retry_after() -> None:
    error = error_for_upstream_status(
        429, {"error": {"message": "slow down"}}, {"Retry-After": "7"}
    )
    assert isinstance(error, RateLimitedError)
    assert error.retry_after == 7.0
    assert error.status_code == 429


@pytest.mark.parametrize(
    ("status", "expected_status", "code"),
    [
        (401, 502, "upstream_auth_failed"),
        (403, 502, "upstream_auth_failed"),
        (404, 502, "upstream_not_found"),
        (500, 502, "upstream_error"),
        (503, 503, "upstream_unavailable"),
    ],
)
def test_other_statuses_map_to_gateway_errors(status: int, expected_status: int, code: str) -> None:
    error = error_for_upstream_status(status, "boom", {})
    assert isinstance(error, UpstreamError)
    assert error.status_code == expected_status
    assert error.code == code


def test_unavailable_is_an_upstream_error() -> None:
    assert isinstance(error_for_upstream_status(503, None, {}), UpstreamUnavailableError)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"error": {"message": "openai says"}}, "openai says"),
        ({"message": "vllm says"}, "vllm says"),
        ("  plain text  ", "plain text"),
        (None, "no details"),
        ({"unexpected": 1}, "no details"),
    ],
)
def test_upstream_message_is_read_from_known_shapes(body: object, message: str) -> None:
    assert upstream_error_message(body) == message


@pytest.mark.parametrize(
    ("value", "seconds"), [(None, 1.0), ("3", 3.0), ("0.5", 0.5), ("soon", 1.0), ("-2", 1.0)]
)
def test_retry_after_parsing(value: str | None, seconds: float) -> None:
    assert parse_retry_after(value) == seconds


@pytest.mark.parametrize("status", [400, 422])
def test_a_refused_parameter_is_the_clients_invalid_request(status: int) -> None:
    body = {"object": "error", "message": "temperature must be >= 0", "code": status}
    error = error_for_upstream_status(status, body, {})
    assert isinstance(error, InvalidRequestError)
    assert error.code == "upstream_bad_request"
    assert "temperature must be >= 0" in error.message
