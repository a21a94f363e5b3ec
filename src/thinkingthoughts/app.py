"""`create_app(settings)`: the FastAPI gateway, its resources built once in the lifespan."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import timedelta
from functools import partial
from importlib.metadata import version

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware

from thinkingthoughts.access.authenticator import KeyAuthenticator
from thinkingthoughts.access.bootstrap import ensure_bootstrap_admin_key
from thinkingthoughts.api import (
    chat,
    health,
    keys,
    metrics,
    openai,
    openai_responses,
    personas,
    sessions,
    traits,
)
from thinkingthoughts.api.body_limit import BodySizeLimitMiddleware
from thinkingthoughts.api.body_timeout import BodyReadTimeoutMiddleware
from thinkingthoughts.api.errors import install_error_handlers
from thinkingthoughts.api.openapi_contract import install_openapi_contract
from thinkingthoughts.api.rate_limit_headers import RateLimitHeadersMiddleware
from thinkingthoughts.api.request_observation import RequestObservationMiddleware
from thinkingthoughts.engine.pipeline import ChatService
from thinkingthoughts.observability.multiprocess import forget_this_process
from thinkingthoughts.observability.tracing import Tracing, no_span, start_tracing
from thinkingthoughts.openai_api.serving import OpenAIChatService
from thinkingthoughts.personas.catalog import load_trait_catalog
from thinkingthoughts.personas.policy import load_operator_policy
from thinkingthoughts.personas.registry import PersonaRegistry
from thinkingthoughts.resources import GatewayResources
from thinkingthoughts.settings import Settings
from thinkingthoughts.shared_state import open_redis
from thinkingthoughts.storage.bootstrap_lock import bootstrap_lock
from thinkingthoughts.storage.clock import utcnow
from thinkingthoughts.storage.database import Database, DatabaseTimeouts
from thinkingthoughts.storage.migrate import upgrade_database_async
from thinkingthoughts.storage.unanswered_turns import (
    UnansweredTurnsWatch,
    mark_unanswered_turns_interrupted,
)
from thinkingthoughts.upstream.client import UpstreamClient, UpstreamTimeouts
from thinkingthoughts.upstream.models import ModelResolver
from thinkingthoughts.usage.ledger import UsageLedger
from thinkingthoughts.usage.metering import Metering
from thinkingthoughts.usage.rate_limits import (
    KeyLimitDefaults,
    RateLimiter,
    open_limit_stores,
)

logger = logging.getLogger(__name__)

Announce = Callable[[str], None]

CORS_EXPOSED_HEADERS = [
    "x-session-id",
    "x-request-id",
    "retry-after",
    "x-ratelimit-limit",
    "x-ratelimit-remaining",
    "x-ratelimit-reset",
]


def create_app(
    settings: Settings,
    *,
    upstream_base_url: str | None = None,
    announce: Announce = print,
    storage_prepared: bool = False,
    tracing: Tracing | None = None,
) -> FastAPI:
    """Build the gateway. `upstream_base_url` overrides the settings (the bundled simulator);
    `storage_prepared`: `prepare_storage_once` already ran (several workers); `tracing`:
    where spans go (default: the OTLP endpoint of the settings, if any)."""
    base_url = upstream_base_url or settings.llm_base_url
    if base_url is None:
        raise ValueError("no inference server: set LLM_BASE_URL or run `thinkingthoughts up`")
    tracing = tracing or start_tracing(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_resources(
            settings,
            base_url=base_url,
            announce=announce,
            storage_prepared=storage_prepared,
            tracing=tracing,
        ) as resources:
            app.state.resources = resources
            yield

    docs = settings.api_docs
    app = FastAPI(
        docs_url="/docs" if docs else None,
        redoc_url="/redoc" if docs else None,
        openapi_url="/openapi.json" if docs else None,
        title="ThinkingThoughts",
        summary="Persona chat gateway for OpenAI-compatible inference servers",
        version=version("thinkingthoughts"),
        lifespan=lifespan,
    )
    install_error_handlers(app)
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_request_bytes)
    app.add_middleware(BodyReadTimeoutMiddleware, seconds=settings.body_timeout)
    app.add_middleware(RateLimitHeadersMiddleware)
    app.add_middleware(RequestObservationMiddleware)
    if settings.cors_origins:
        # Keys travel in headers, never cookies: credentials stay off, so even a
        # wildcard origin cannot be combined with them.
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_credentials=False,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=[
                "authorization",
                "x-api-key",
                "content-type",
                "x-session-id",
                "x-request-id",
            ],
            expose_headers=CORS_EXPOSED_HEADERS,
            max_age=600,
        )
    for module in (health, metrics, chat, personas, traits, sessions, keys, openai,
                   openai_responses):  # fmt: skip
        app.include_router(module.router)
    install_openapi_contract(app)
    traits.install_trait_ids_in_contract(app, load_trait_catalog(settings.traits_file))
    if tracing is not None:
        tracing.instrument_app(app)
    return app


@asynccontextmanager
async def open_resources(
    settings: Settings,
    *,
    base_url: str,
    announce: Announce,
    storage_prepared: bool = False,
    tracing: Tracing | None = None,
) -> AsyncIterator[GatewayResources]:
    """Everything a gateway process holds, closed on exit, also when a start fails halfway."""
    async with AsyncExitStack() as stack:
        if tracing is not None:
            stack.callback(tracing.shutdown)
        yield await _build_resources(
            settings,
            base_url=base_url,
            announce=announce,
            stack=stack,
            storage_prepared=storage_prepared,
            tracing=tracing,
        )


async def _build_resources(
    settings: Settings,
    *,
    base_url: str,
    announce: Announce,
    stack: AsyncExitStack,
    storage_prepared: bool,
    tracing: Tracing | None,
) -> GatewayResources:
    stack.callback(forget_this_process)
    database = Database(
        settings.resolved_database_url,
        span=tracing.span if tracing else no_span,
        timeouts=database_timeouts(settings),
    )
    stack.push_async_callback(database.dispose)
    registry = persona_registry(settings)
    if not storage_prepared:
        await prepare_storage(settings, database, registry, announce=announce)
    unanswered = UnansweredTurnsWatch(
        database,
        lock=partial(
            bootstrap_lock,
            settings.resolved_database_url,
            connect_timeout=settings.database_connect_timeout,
        ),
        older_than=longest_turn(settings),
        every=settings.llm_request_timeout,
    )
    unanswered.start()
    stack.push_async_callback(unanswered.close)
    upstream = UpstreamClient.create(
        base_url=base_url,
        api_key=settings.llm_api_key.get_secret_value() if settings.llm_api_key else None,
        timeouts=UpstreamTimeouts(
            connect=settings.llm_connect_timeout,
            first_token=settings.llm_first_token_timeout,
            request=settings.llm_request_timeout,
            inter_token=settings.llm_inter_token_timeout,
        ),
        trace_configs=tracing.upstream_trace_configs() if tracing else (),
    )
    stack.push_async_callback(upstream.close)
    redis = (
        open_redis(
            settings.redis_url,
            timeout=settings.redis_timeout,
            connect_timeout=settings.redis_connect_timeout,
        )
        if settings.redis_url
        else None
    )
    if redis is not None:
        stack.push_async_callback(redis.aclose)
    rate_limiter = RateLimiter(
        open_limit_stores(redis),
        defaults=KeyLimitDefaults(
            requests_per_minute=settings.key_requests_per_minute,
            tokens_per_minute=settings.key_tokens_per_minute,
            concurrent_streams=settings.key_concurrent_streams,
        ),
        auth_failures_per_minute=settings.auth_failures_per_minute,
        fail_open=settings.rate_limit_fail_open,
        stream_lease_seconds=settings.stream_lease_seconds,
        breaker_open_seconds=settings.rate_limit_retry_seconds,
    )
    stack.push_async_callback(rate_limiter.close)
    ledger = UsageLedger(database, flush_seconds=settings.usage_flush_seconds)
    ledger.start()
    stack.push_async_callback(ledger.close)
    models = ModelResolver(
        upstream,
        configured_model=settings.llm_model,
        configured_max_model_len=settings.llm_max_model_len,
    )
    stack.push_async_callback(models.close)
    return GatewayResources(
        settings=settings,
        database=database,
        upstream=upstream,
        models=models,
        personas=registry,
        chat=ChatService(
            database=database,
            upstream=upstream,
            models=models,
            personas=registry,
            default_max_tokens=settings.max_tokens,
        ),
        openai=OpenAIChatService(
            database=database, upstream=upstream, models=models, personas=registry
        ),
        authenticator=KeyAuthenticator(database, cache_seconds=settings.key_cache_seconds),
        rate_limiter=rate_limiter,
        metering=Metering(ledger, rate_limiter),
        usage=ledger,
        redis=redis,
    )


def longest_turn(settings: Settings) -> timedelta:
    """Longer than any turn can run: its upstream calls and its writes all fit twice."""
    return timedelta(seconds=2 * settings.llm_request_timeout)


def database_timeouts(settings: Settings) -> DatabaseTimeouts:
    return DatabaseTimeouts(
        connect=settings.database_connect_timeout, statement=settings.database_statement_timeout
    )


def persona_registry(settings: Settings) -> PersonaRegistry:
    return PersonaRegistry(
        catalog=load_trait_catalog(settings.traits_file),
        policy_for_locale=_policy_loader(settings),
        default_ref=settings.default_persona,
        cache_seconds=settings.persona_cache_seconds,
    )


async def prepare_storage(
    settings: Settings, database: Database, registry: PersonaRegistry, *, announce: Announce
) -> None:
    """Bring the schema up to date, seed the example personas into an empty database and
    make the first admin key. Each step does nothing the second time, and processes
    starting together take turns (`bootstrap_lock`), so only one ever seeds or makes it."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    url = settings.resolved_database_url
    async with bootstrap_lock(url, connect_timeout=settings.database_connect_timeout):
        await upgrade_database_async(url)
        async with database.transaction() as db:
            seeded = await registry.seed_if_empty(db)
        if seeded:
            logger.info("seeded %d example personas", seeded)
        secret = await ensure_bootstrap_admin_key(database, settings.admin_key_file)
        repaired = await database.run(
            partial(
                mark_unanswered_turns_interrupted,
                stored_before=utcnow() - longest_turn(settings),
            )
        )
        if repaired:
            logger.info("marked %d turns a crash left unanswered as interrupted", repaired)
    if secret is not None:
        announce(bootstrap_banner(secret, settings))


async def prepare_storage_once(settings: Settings, *, announce: Announce = print) -> None:
    """`prepare_storage` before several workers start, so that they never race to migrate
    or to make the first admin key."""
    database = Database(settings.resolved_database_url, timeouts=database_timeouts(settings))
    try:
        await prepare_storage(settings, database, persona_registry(settings), announce=announce)
    finally:
        await database.dispose()


def app_from_environment() -> FastAPI:
    """The app factory a multi-worker server imports: settings from the environment, the
    storage already prepared by the parent process."""
    return create_app(Settings(), storage_prepared=True)


def _policy_loader(settings: Settings) -> Callable[[str], str]:
    policies: dict[str, str] = {}

    def policy_for_locale(locale: str) -> str:
        if locale not in policies:
            policies[locale] = load_operator_policy(settings.policy_file, locale)
        return policies[locale]

    return policy_for_locale


def bootstrap_banner(secret: str, settings: Settings) -> str:
    return (
        "\n"
        "  First start: an admin API key was created. It is shown only this once:\n\n"
        f"      {secret}\n\n"
        f"  It is also saved in {settings.admin_key_file} (readable by you only).\n"
        "  Use it as 'x-api-key: <key>' or 'Authorization: Bearer <key>'.\n"
    )
