"""Who is calling: the key behind a request, and what it may do."""

from __future__ import annotations

from dataclasses import dataclass

from thinkingthoughts.security.api_keys import Scope

SCOPE_GRANTS: dict[Scope, frozenset[Scope]] = {
    Scope.ADMIN: frozenset({Scope.ADMIN, Scope.CHAT, Scope.READ}),
    Scope.CHAT: frozenset({Scope.CHAT, Scope.READ}),
    Scope.READ: frozenset({Scope.READ}),
}


@dataclass(frozen=True, slots=True)
class Principal:
    key_id: str
    name: str
    owner: str
    scopes: frozenset[Scope]

    def allows(self, needed: Scope) -> bool:
        return any(needed in SCOPE_GRANTS[scope] for scope in self.scopes)

    @property
    def is_admin(self) -> bool:
        return Scope.ADMIN in self.scopes
