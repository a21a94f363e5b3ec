"""What a key may do beyond its scopes: its own limits and the personas and models it may use."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields, replace
from typing import Any


@dataclass(frozen=True, slots=True)
class KeyPolicy:
    """A key's limits (None: the gateway's default; 0: no limit) and allow-lists
    (None: everything the key can see)."""

    requests_per_minute: int | None = None
    tokens_per_minute: int | None = None
    concurrent_streams: int | None = None
    allowed_personas: tuple[str, ...] | None = None
    allowed_models: tuple[str, ...] | None = None

    def allows_persona(self, slug: str) -> bool:
        return self.allowed_personas is None or slug in self.allowed_personas

    def allows_model(self, model: str) -> bool:
        return self.allowed_models is None or model in self.allowed_models


def allow_list(values: Iterable[str] | None) -> tuple[str, ...] | None:
    """A stored allow-list in canonical form: trimmed, unique, sorted; None stays None."""
    if values is None:
        return None
    return tuple(sorted({value.strip() for value in values if value.strip()}))


def effective_limit(own: int | None, default: int) -> int:
    """The limit that applies: the key's own when set, else the gateway's; 0 is no limit."""
    return default if own is None else own


POLICY_FIELDS = frozenset(field.name for field in fields(KeyPolicy))


def policy_with(policy: KeyPolicy, changes: Mapping[str, Any]) -> KeyPolicy:
    """`policy` with the named fields changed; allow-lists in canonical form."""
    unknown = set(changes) - POLICY_FIELDS
    if unknown:
        raise ValueError(f"not key policy fields: {sorted(unknown)}")
    changed = replace(policy, **changes)
    return replace(
        changed,
        allowed_personas=allow_list(changed.allowed_personas),
        allowed_models=allow_list(changed.allowed_models),
    )
