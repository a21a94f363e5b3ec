"""API key secrets: generation, hashing and the scopes a key can hold.

Secrets are 256 random bits, so a single SHA-256 is the right hash (as for GitHub
tokens): nothing to brute force, and a lookup by hash compares no secret in Python.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from enum import StrEnum

SECRET_PREFIX = "tt_"  # noqa: S105 - a public marker, not a secret
VISIBLE_PREFIX_LENGTH = 11


class Scope(StrEnum):
    ADMIN = "admin"
    CHAT = "chat"
    READ = "read"


@dataclass(frozen=True, slots=True)
class NewKeySecret:
    secret: str
    prefix: str
    secret_hash: str


def generate_key_secret() -> NewKeySecret:
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    return NewKeySecret(
        secret=secret, prefix=secret[:VISIBLE_PREFIX_LENGTH], secret_hash=hash_key_secret(secret)
    )


def hash_key_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def parse_scopes(values: list[str] | tuple[str, ...]) -> frozenset[Scope]:
    known = {scope.value for scope in Scope}
    return frozenset(Scope(value) for value in values if value in known)
