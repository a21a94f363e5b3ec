"""`/api/keys`: API keys for admins, and each key's view of itself and its usage.

A secret appears once, in the answer that makes it. A key that is not an admin's reads
only itself (`/api/keys/me`, or its own id): any other key answers 404.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, Field, StringConstraints

from thinkingthoughts.access.api_keys import Scope
from thinkingthoughts.access.key_management import (
    IssuedKey,
    KeyInfo,
    get_key,
    issue_key,
    list_keys,
    revoke_key,
    rotate_key,
    update_key,
)
from thinkingthoughts.access.key_policy import KeyPolicy, policy_with
from thinkingthoughts.access.principal import Principal
from thinkingthoughts.api.deps import AdminPrincipal, ReadPrincipal, Resources
from thinkingthoughts.errors import NotFoundError
from thinkingthoughts.storage.clock import utcnow
from thinkingthoughts.usage.report import UsageReport, read_usage_report
from thinkingthoughts.value_rules import NON_BLANK, NUMBERS_ONLY, AcceptableText, ClientModel

SELF = "me"
"""The key ref that names the calling key itself."""

LimitValue = Annotated[int, Field(ge=0, le=100_000_000), NUMBERS_ONLY] | None
"""A per-key limit: null takes the gateway's default, 0 means no limit (never `false`)."""
AllowList = Annotated[
    list[
        Annotated[
            str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), NON_BLANK
        ]
    ]
    | None,
    Field(max_length=200),
]
"""Persona slugs or model names the key may use; null allows every one."""

router = APIRouter(prefix="/api/keys", tags=["keys"])


class KeyOut(BaseModel):
    id: str
    name: str
    prefix: str
    scopes: list[str]
    owner: str
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None
    revoked_at: datetime | None
    active: bool
    requests_per_minute: int | None
    tokens_per_minute: int | None
    concurrent_streams: int | None
    allowed_personas: list[str] | None
    allowed_models: list[str] | None


class KeyList(BaseModel):
    data: list[KeyOut]


class NewKeyOut(BaseModel):
    key: KeyOut
    secret: str = Field(description="Shown only in this answer; store it now.")


class KeyPolicyFields(ClientModel):
    requests_per_minute: LimitValue = None
    tokens_per_minute: LimitValue = None
    concurrent_streams: LimitValue = None
    allowed_personas: AllowList = None
    allowed_models: AllowList = None

    def policy_changes(self) -> dict[str, object]:
        """The policy fields the client sent (null included: back to the default)."""
        sent = self.model_fields_set & set(KeyPolicyFields.model_fields)
        return {name: getattr(self, name) for name in sent}


class KeyCreate(KeyPolicyFields):
    name: str = Field(min_length=1, max_length=100)
    scopes: list[Scope] = Field(default_factory=lambda: [Scope.CHAT], min_length=1)
    owner: str | None = Field(default=None, min_length=1, max_length=128)
    expires_in_days: Annotated[int, Field(ge=1, le=3650), NUMBERS_ONLY] | None = None


class KeyUpdate(KeyPolicyFields):
    name: str | None = Field(default=None, min_length=1, max_length=100)


def key_out(info: KeyInfo) -> KeyOut:
    fields = {name: value for name, value in asdict(info).items() if name != "policy"}
    return KeyOut(**fields, **asdict(info.policy), active=info.active_at(utcnow()))


def new_key_out(issued: IssuedKey) -> NewKeyOut:
    return NewKeyOut(key=key_out(issued.info), secret=issued.secret)


@router.get("")
async def read_keys(_: AdminPrincipal, resources: Resources) -> KeyList:
    return KeyList(data=[key_out(info) for info in await list_keys(resources.database)])


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_key(body: KeyCreate, _: AdminPrincipal, resources: Resources) -> NewKeyOut:
    expires_at = utcnow() + timedelta(days=body.expires_in_days) if body.expires_in_days else None
    issued = await issue_key(
        resources.database,
        name=body.name.strip(),
        scopes=sorted(set(body.scopes)),
        owner=body.owner,
        expires_at=expires_at,
        policy=policy_with(KeyPolicy(), body.policy_changes()),
    )
    return new_key_out(issued)


@router.get("/me")
async def read_own_key(principal: ReadPrincipal, resources: Resources) -> KeyOut:
    """The calling key as admins see it (never its secret): scopes, owner, limits."""
    return key_out(await get_key(resources.database, principal.key_id))


@router.get("/{ref}/usage")
async def read_key_usage(
    ref: AcceptableText,
    principal: ReadPrincipal,
    resources: Resources,
    days: Annotated[int, Query(ge=1, le=366)] = 30,
) -> UsageReport:
    """Requests and tokens per UTC day, persona and model, over the last `days` days."""
    info = await _readable_key(resources, principal, ref)
    await resources.usage.flush()
    return await read_usage_report(resources.database, info, days=days)


@router.patch("/{ref}")
async def change_key(
    ref: AcceptableText, body: KeyUpdate, _: AdminPrincipal, resources: Resources
) -> KeyOut:
    """Rename a key or change its limits and allow-lists; fields not sent stay as they are."""
    name = body.name.strip() if body.name else None
    info = await update_key(resources.database, ref, name=name, policy=body.policy_changes())
    resources.authenticator.forget()
    return key_out(info)


@router.delete("/{ref}")
async def revoke(ref: AcceptableText, _: AdminPrincipal, resources: Resources) -> KeyOut:
    """Revoke a key (by id or visible prefix): refused at once by this process, and by
    every other within TT_KEY_CACHE_SECONDS."""
    revoked = await revoke_key(resources.database, ref)
    resources.authenticator.forget()
    return key_out(revoked)


@router.post("/{ref}/rotate", status_code=status.HTTP_201_CREATED)
async def rotate(ref: AcceptableText, _: AdminPrincipal, resources: Resources) -> NewKeyOut:
    """A new secret with the same name, scopes and owner; the old secret stops working."""
    rotated = await rotate_key(resources.database, ref)
    resources.authenticator.forget()
    return new_key_out(rotated)


async def _readable_key(resources: Resources, principal: Principal, ref: str) -> KeyInfo:
    """The key `ref` names, if the caller may read it; another's key does not exist."""
    info = await get_key(resources.database, principal.key_id if ref == SELF else ref)
    if info.id != principal.key_id and not principal.is_admin:
        raise NotFoundError(f"no key '{ref}'", code="key_not_found")
    return info
