"""Redis, where gateway replicas keep what they must agree on (when REDIS_URL is set).

Redis sits on the path of every limited request, so its client waits briefly and does
not retry a command that timed out: a Redis that hangs must cost a request at most one
short timeout (the limiter then stops asking it for a while). A connection that was
dropped (Redis restarted) is retried once, at once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from redis.asyncio import Redis


class RedisNotInstalledError(RuntimeError):
    pass


def open_redis(url: str, *, timeout: float, connect_timeout: float) -> Redis:
    """A pooled async client whose commands give up after `timeout` seconds and whose
    connections after `connect_timeout`; Redis is an optional extra, imported only here."""
    try:
        from redis.asyncio import Redis
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff
        from redis.exceptions import ConnectionError as RedisConnectionError
    except ImportError as exc:  # pragma: no cover - depends on the installed extras
        raise RedisNotInstalledError(
            "REDIS_URL is set but the redis package is missing: "
            "pip install 'thinkingthoughts[redis]'"
        ) from exc
    client: Redis = Redis.from_url(
        url,
        socket_timeout=timeout,
        socket_connect_timeout=connect_timeout,
        retry=Retry(NoBackoff(), retries=1, supported_errors=(RedisConnectionError,)),
    )
    return client
