"""Session ids a client chooses: any well-formed UUID names a session, its own or new.

The original prototype's clients made their own `uuid4` and sent it as the session id;
an unknown one starts a session with that id for the caller. Ids are stored in the
canonical form (lowercase, hyphenated), which is also what the gateway makes.
"""

from __future__ import annotations

import uuid

from thinkingthoughts.errors import InvalidRequestError


def canonical_session_id(value: str) -> str:
    """`value` as a stored session id; a value that is not a UUID is refused."""
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise InvalidRequestError(
            f"'{value}' is not a session id: send a UUID", code="invalid_session_id"
        ) from None
