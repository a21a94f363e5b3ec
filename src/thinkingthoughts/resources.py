"""The long-lived objects one gateway process holds, built once at start."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from thinkingthoughts.access.authenticator import KeyAuthenticator
from thinkingthoughts.engine.pipeline import ChatService
from thinkingthoughts.openai_api.serving import OpenAIChatService
from thinkingthoughts.personas.registry import PersonaRegistry
from thinkingthoughts.settings import Settings
from thinkingthoughts.storage.database import Database
from thinkingthoughts.upstream.client import UpstreamClient
from thinkingthoughts.upstream.models import ModelResolver
from thinkingthoughts.usage.ledger import UsageLedger
from thinkingthoughts.usage.metering import Metering
from thinkingthoughts.usage.rate_limits import RateLimiter

if TYPE_CHECKING:
    from redis.asyncio import Redis


@dataclass(frozen=True, slots=True)
class GatewayResources:
    settings: Settings
    database: Database
    upstream: UpstreamClient
    models: ModelResolver
    personas: PersonaRegistry
    chat: ChatService
    openai: OpenAIChatService
    authenticator: KeyAuthenticator
    rate_limiter: RateLimiter
    metering: Metering
    usage: UsageLedger
    redis: Redis | None
