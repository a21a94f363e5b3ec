"""The id of the request being served: taken from the caller's `X-Request-ID` when it is
a sensible token, made up otherwise; returned to the caller, forwarded to the upstream
and written in every log line of the request."""

from __future__ import annotations

import re
import uuid
from contextvars import ContextVar

REQUEST_ID_HEADER = "X-Request-ID"
MAX_REQUEST_ID_LENGTH = 128
_ACCEPTED = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/+=-]*")

current_request_id: ContextVar[str | None] = ContextVar("tt_request_id", default=None)
"""Set for the length of a request (also in the tasks it starts)."""


def accepted_request_id(given: str | None) -> str:
    """`given` when it is a plain token of at most MAX_REQUEST_ID_LENGTH characters (a
    proxy's or client's id, so their logs and ours join up); else a new random id.

    Anything else (spaces, quotes, control characters, an overlong value) is replaced,
    never echoed: it would go into response headers and log lines as is."""
    if given and len(given) <= MAX_REQUEST_ID_LENGTH and _ACCEPTED.fullmatch(given):
        return given
    return uuid.uuid4().hex


def request_id_header() -> dict[str, str]:
    """The header that returns the current request's id (none outside a request)."""
    request_id = current_request_id.get()
    return {REQUEST_ID_HEADER: request_id} if request_id else {}
