from __future__ import annotations

import pytest

from thinkingthoughts.access.api_keys import (
    SECRET_PREFIX,
    Scope,
    generate_key_secret,
    hash_key_secret,
    parse_scopes,
)
from thinkingthoughts.access.authenticator import extract_secret
from thinkingthoughts.access.principal import Principal


def test_generated_secrets_are_unique_prefixed_and_hashed() -> None:
    first, second = generate_key_secret(), generate_key_secret()
    assert first.secret != second.secret
    assert first.secret.startswith(SECRET_PREFIX)
    assert first.secret.startswith(first.prefix)
    assert first.secret_hash == hash_key_secret(first.secret)
    assert first.secret not in first.secret_hash
    assert len(first.secret) >= 40


def test_unknown_scopes_are_dropped() -> None:
    assert parse_scopes(["chat", "root", "read"]) == {Scope.CHAT, Scope.READ}


@pytest.mark.parametrize(
    ("held", "needed", "allowed"),
    [
        (Scope.ADMIN, Scope.ADMIN, True),
        (Scope.ADMIN, Scope.CHAT, True),
        (Scope.CHAT, Scope.READ, True),
        (Scope.CHAT, Scope.ADMIN, False),
        (Scope.READ, Scope.CHAT, False),
        (Scope.READ, Scope.READ, True),
    ],
)
def test_scope_grants(held: Scope, needed: Scope, allowed: bool) -> None:
    principal = Principal(key_id="k", name="n", owner="o", scopes=frozenset({held}))
    assert principal.allows(needed) is allowed


@pytest.mark.parametrize(
    ("header", "bearer", "secret"),
    [
        ("tt_a", None, "tt_a"),
        (None, "tt_b", "tt_b"),
        (None, "  tt_c ", "tt_c"),
        ("tt_a", "tt_b", "tt_a"),
        ("  ", "tt_b", "tt_b"),
        ("  ", None, None),
        (None, " ", None),
        (None, None, None),
    ],
)
def test_secret_comes_from_either_header(
    header: str | None, bearer: str | None, secret: str | None
) -> None:
    assert extract_secret(api_key_header=header, bearer_token=bearer) == secret
