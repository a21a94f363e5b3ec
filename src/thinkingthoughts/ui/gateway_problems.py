"""Every way a call to the gateway can fail: one `GatewayProblem`, its kind saying what.

```
GatewayProblem(kind)     from
  unreachable            no answer: connection refused (code "refused"), timed out ("timeout")
  upstream               502, 503, 504, or an upstream_error: the inference server behind it
  rate_limited           429, or a rate_limit_error; `retry_after` seconds when known
  too_long               413, or a stream's error for a message or context too long
  unauthorized           401
  forbidden              403
  gone                   404
  invalid                422, 400
  conflict               409
  unavailable            a service_unavailable_error: the gateway's own 503
  cut_off                a stream closed or lost before its end
  unexpected             anything else: a 500, an answer that is not the API's
```

`problem_for` reads an error answer (its status and body), `problem_for_error_event` the
`error` event of a stream, `retry_after_seconds` a Retry-After header.
"""

from __future__ import annotations

import email.utils
import math
import time
from typing import Literal

ProblemKind = Literal[
    "unreachable",  # the gateway itself: connection refused, timed out
    "upstream",  # the inference server behind it is down, failing or too slow
    "rate_limited",  # 429: wait `retry_after` seconds
    "too_long",  # 413: a message or request too long
    "unauthorized",  # 401: the key was refused
    "forbidden",  # 403: the key may not do this
    "gone",  # 404: deleted meanwhile (another tab), or never there
    "invalid",  # 422 (and 400): the gateway's own message says what
    "conflict",  # 409: a slug taken, the last admin key
    "unavailable",  # 503 from the gateway itself (its rate limiter cannot be checked)
    "cut_off",  # a streamed reply that stopped before its end
    "unexpected",  # anything else: a 500, an answer that is not the API's
]


class GatewayProblem(Exception):  # noqa: N818 - the name the page uses everywhere
    """Why a call to the gateway failed, in plain words.

    `kind` says what happened (see `ProblemKind`); `message` is a sentence for people;
    `retry_after` is the wait in seconds of a 429 (None when the gateway gave none);
    `detail` is the gateway's own message, when it sent one.
    """

    def __init__(
        self,
        kind: ProblemKind,
        message: str,
        retry_after: float | None = None,
        *,
        status: int | None = None,
        code: str | None = None,
        detail: str | None = None,
    ) -> None:
        super().__init__(message)
        self.kind: ProblemKind = kind
        self.message = message
        self.retry_after = retry_after
        self.status = status
        self.code = code
        self.detail = detail

    def __repr__(self) -> str:
        return f"GatewayProblem({self.kind!r}, {self.message!r}, {self.retry_after!r})"


def retry_after_seconds(value: str | None, *, now: float | None = None) -> float | None:
    """A Retry-After header as seconds to wait: delta-seconds or an HTTP date."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            moment = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
        seconds = moment.timestamp() - (time.time() if now is None else now)
    if math.isnan(seconds) or math.isinf(seconds):
        return None
    return max(0.0, seconds)


def error_fields(body: object) -> tuple[str | None, str | None, str | None]:
    """(type, code, message) of the gateway's error shape, native or OpenAI's."""
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            kind, code, message = error.get("type"), error.get("code"), error.get("message")
            return (
                kind if isinstance(kind, str) else None,
                code if isinstance(code, str) else None,
                message if isinstance(message, str) else None,
            )
    return None, None, None


def _wait_words(seconds: float | None) -> str:
    if seconds is None:
        return "wait a moment"
    whole = max(1, math.ceil(seconds))
    return f"wait {whole} second{'s' if whole != 1 else ''}"


def problem_for(status: int, body: object, *, retry_after: float | None = None) -> GatewayProblem:
    """The problem an error answer (`status` and its decoded body) stands for."""
    error_type, code, detail = error_fields(body)
    said = f": {detail}" if detail else ""
    if status == 429 or error_type == "rate_limit_error":
        return GatewayProblem(
            "rate_limited",
            f"Too many requests right now; {_wait_words(retry_after)} and try again.",
            retry_after,
            status=status,
            code=code,
            detail=detail,
        )
    if error_type == "service_unavailable_error":
        return GatewayProblem(
            "unavailable",
            f"The gateway cannot serve this right now{said}.",
            status=status,
            code=code,
            detail=detail,
        )
    if status in (502, 503, 504) or error_type == "upstream_error":
        return GatewayProblem(
            "upstream",
            "The inference server is not answering right now; try again in a moment"
            f"{' (' + detail + ')' if detail else ''}.",
            status=status,
            code=code,
            detail=detail,
        )
    simple: dict[int, tuple[ProblemKind, str]] = {
        413: ("too_long", f"The message is too long{said}."),
        401: ("unauthorized", "The API key was refused."),
        403: ("forbidden", f"This key may not do that{said}."),
        404: ("gone", f"The gateway does not know this (it may have been deleted){said}."),
        409: ("conflict", f"That clashes with what exists{said}."),
        422: ("invalid", f"The gateway refused the request{said}."),
        400: ("invalid", f"The gateway refused the request{said}."),
    }
    if status in simple:
        kind, message = simple[status]
        return GatewayProblem(kind, message, status=status, code=code, detail=detail)
    return GatewayProblem(
        "unexpected",
        f"The gateway failed unexpectedly (HTTP {status}){said}.",
        status=status,
        code=code,
        detail=detail,
    )


_EVENT_STATUS = {
    "invalid_request_error": 422,
    "authentication_error": 401,
    "permission_error": 403,
    "not_found_error": 404,
    "conflict_error": 409,
    "rate_limit_error": 429,
    "service_unavailable_error": 503,
    "upstream_error": 502,
}


def problem_for_error_event(data: object) -> GatewayProblem:
    """The problem an `error` event of a stream stands for (it carries no HTTP status)."""
    error_type, code, _ = error_fields(data)
    status = _EVENT_STATUS.get(error_type or "", 500)
    if code in ("message_too_long", "context_length_exceeded", "payload_too_large"):
        status = 413
    return problem_for(status, data)
