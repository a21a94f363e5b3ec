"""Session ids a client chooses: any well-formed UUID names a session, its own or new.

The original prototype's clients made their own `uuid4` and sent it as the session id;
an unknown one starts a session with that id for the caller. A session id is a UUID
written out in full (8-4-4-4-12 hexadecimal digits, either case) and is stored in
lowercase, the form the gateway makes.
"""

from __future__ import annotations

import re

from thinkingthoughts.errors import BadRequestError

SESSION_ID_PATTERN = "^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$"
"""What the API documents a session id to be; `canonical_session_id` enforces it."""

_SESSION_ID = re.compile(SESSION_ID_PATTERN)


def canonical_session_id(value: str) -> str:
    """`value` as a stored session id; a value that is not a UUID is refused (400)."""
    if _SESSION_ID.fullmatch(value) is None:
        raise BadRequestError(
            f"'{value}' is not a session id: send a UUID", code="invalid_session_id"
        )
    return value.lower()
