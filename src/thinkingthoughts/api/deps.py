"""What a route needs, as `Annotated` aliases: resources, the caller, a database session."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from thinkingthoughts.access.api_keys import Scope
from thinkingthoughts.access.authenticator import extract_secret
from thinkingthoughts.access.principal import Principal
from thinkingthoughts.api.rate_limit_headers import set_rate_limit_headers
from thinkingthoughts.errors import AuthenticationError, PermissionDeniedError
from thinkingthoughts.resources import GatewayResources

logger = logging.getLogger(__name__)


async def get_resources(request: Request) -> GatewayResources:
    # async: FastAPI runs a plain `def` dependency in a worker thread, one hop per request.
    resources: GatewayResources = request.app.state.resources
    return resources


Resources = Annotated[GatewayResources, Depends(get_resources)]


async def get_db(resources: Resources) -> AsyncIterator[AsyncSession]:
    async with resources.database.request_session() as db:
        yield db


DbSession = Annotated[AsyncSession, Depends(get_db)]


API_KEY_HEADER = APIKeyHeader(name="x-api-key", scheme_name="ApiKeyHeader", auto_error=False)
BEARER = HTTPBearer(scheme_name="BearerAuth", auto_error=False)
"""The two ways to present a key, published as the API's security schemes (either one)."""


async def get_principal(
    request: Request,
    resources: Resources,
    api_key: Annotated[str | None, Security(API_KEY_HEADER)] = None,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(BEARER)] = None,
) -> Principal:
    """The caller's key, counted against its limits; an address that keeps presenting
    bad keys is refused before its next try is even checked."""
    limiter = resources.rate_limiter
    address = request.client.host if request.client else "unknown"
    await limiter.check_address(address)
    secret = extract_secret(
        api_key_header=api_key, bearer_token=bearer.credentials if bearer else None
    )
    try:
        principal = await resources.authenticator.authenticate(secret)
    except AuthenticationError as refused:
        # The secret itself is never logged, not even a wrong one.
        logger.info("authentication refused from %s: %s", address, refused.code)
        await limiter.count_auth_failure(address)
        raise
    logger.debug("key %s (%s) authenticated from %s", principal.key_id, principal.name, address)
    status = await limiter.hit_key(principal)
    if status is not None:
        set_rate_limit_headers(request, status.headers())
    return principal


def require_scope(scope: Scope) -> Callable[[Principal], Awaitable[Principal]]:
    async def dependency(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
        if not principal.allows(scope):
            raise PermissionDeniedError(f"this key lacks the '{scope.value}' scope")
        return principal

    return dependency


ReadPrincipal = Annotated[Principal, Depends(require_scope(Scope.READ))]
ChatPrincipal = Annotated[Principal, Depends(require_scope(Scope.CHAT))]
AdminPrincipal = Annotated[Principal, Depends(require_scope(Scope.ADMIN))]
