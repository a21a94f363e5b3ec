"""`/api/keys`: API keys for admins. A secret appears once, in the answer that makes it."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime, timedelta

from fastapi import APIRouter, status
from pydantic import BaseModel, Field

from thinkingthoughts.api.deps import AdminPrincipal, Resources
from thinkingthoughts.security.api_keys import Scope
from thinkingthoughts.security.key_management import (
    IssuedKey,
    KeyInfo,
    issue_key,
    list_keys,
    revoke_key,
    rotate_key,
)
from thinkingthoughts.storage.clock import utcnow

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


class KeyList(BaseModel):
    data: list[KeyOut]


class NewKeyOut(BaseModel):
    key: KeyOut
    secret: str = Field(description="Shown only in this answer; store it now.")


class KeyCreate(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    scopes: list[Scope] = Field(default_factory=lambda: [Scope.CHAT], min_length=1)
    owner: str | None = Field(default=None, min_length=1, max_length=128)
    expires_in_days: int | None = Field(default=None, ge=1, le=3650)


def key_out(info: KeyInfo) -> KeyOut:
    return KeyOut(**asdict(info), active=info.active_at(utcnow()))


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
    )
    return new_key_out(issued)


@router.delete("/{ref}")
async def revoke(ref: str, _: AdminPrincipal, resources: Resources) -> KeyOut:
    """Revoke a key (by id or visible prefix); it is refused from the next request on."""
    return key_out(await revoke_key(resources.database, ref))


@router.post("/{ref}/rotate", status_code=status.HTTP_201_CREATED)
async def rotate(ref: str, _: AdminPrincipal, resources: Resources) -> NewKeyOut:
    """A new secret with the same name, scopes and owner; the old secret stops working."""
    return new_key_out(await rotate_key(resources.database, ref))
