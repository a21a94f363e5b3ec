"""How an upstream HTTP failure becomes one of the gateway's errors."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from thinkingthoughts.errors import (
    ContextOverflowError,
    GatewayError,
    InvalidRequestError,
    RateLimitedError,
    UpstreamError,
    UpstreamUnavailableError,
)

_CONTEXT_MARKERS = ("maximum context length", "context_length_exceeded", "context length")
DEFAULT_RETRY_AFTER = 1.0


def upstream_error_message(body: Any) -> str:
    """The upstream's own explanation, from OpenAI's or vLLM's error shapes."""
    if isinstance(body, Mapping):
        error = body.get("error")
        if isinstance(error, Mapping) and isinstance(error.get("message"), str):
            return str(error["message"])
        if isinstance(body.get("message"), str):
            return str(body["message"])
    if isinstance(body, str) and body.strip():
        return body.strip()[:500]
    return "no details"


def error_for_upstream_status(status: int, body: Any, headers: Mapping[str, str]) -> GatewayError:
    """Map an upstream status to the error the gateway's client should see."""
    detail = upstream_error_message(body)
    if status == 400 and any(marker in detail.lower() for marker in _CONTEXT_MARKERS):
        return ContextOverflowError(f"the conversation does not fit the model's context: {detail}")
    if status in (400, 422):
        return InvalidRequestError(
            f"the inference server refused the request: {detail}", code="upstream_bad_request"
        )
    if status == 429:
        return RateLimitedError(
            f"the inference server is busy: {detail}",
            retry_after=parse_retry_after(headers.get("Retry-After")),
            code="upstream_rate_limited",
        )
    if status in (401, 403):
        return UpstreamError(
            f"the inference server refused the gateway's credentials (status {status}); "
            "check LLM_API_KEY",
            code="upstream_auth_failed",
        )
    if status == 404:
        return UpstreamError(
            f"the inference server does not know the model or route: {detail}; check LLM_MODEL",
            code="upstream_not_found",
        )
    if status == 503:
        return UpstreamUnavailableError(f"the inference server is unavailable: {detail}")
    return UpstreamError(f"the inference server answered {status}: {detail}")


def parse_retry_after(value: str | None) -> float:
    if value is None:
        return DEFAULT_RETRY_AFTER
    try:
        seconds = float(value)
    except ValueError:
        return DEFAULT_RETRY_AFTER
    return seconds if seconds >= 0 else DEFAULT_RETRY_AFTER
