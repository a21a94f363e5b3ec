"""Who is calling: the key behind a request, and what it may do."""

from __future__ import annotations

from dataclasses import dataclass, field

from thinkingthoughts.access.api_keys import Scope
from thinkingthoughts.access.key_policy import KeyPolicy

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
    policy: KeyPolicy = field(default_factory=KeyPolicy)

    def allows(self, needed: Scope) -> bool:
        return any(needed in SCOPE_GRANTS[scope] for scope in self.scopes)

    @property
    def is_admin(self) -> bool:
        return Scope.ADMIN in self.scopes

    @property
    def persona_owner(self) -> str | None:
        """The owner whose private personas this key sees, makes and changes besides the
        global ones; None for an admin key, which sees and changes every persona and
        whose new personas are global."""
        return None if self.is_admin else self.owner
