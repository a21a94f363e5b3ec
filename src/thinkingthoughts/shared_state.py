"""Redis, where gateway replicas keep what they must agree on (when REDIS_URL is set)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from redis.asyncio import Redis


class RedisNotInstalledError(RuntimeError):
    pass


def open_redis(url: str) -> Redis:
    """A pooled async client; Redis is an optional extra, so it is imported only here."""
    try:
        from redis.asyncio import Redis
    except ImportError as exc:  # pragma: no cover - depends on the installed extras
        raise RedisNotInstalledError(
            "REDIS_URL is set but the redis package is missing: "
            "pip install 'thinkingthoughts[redis]'"
        ) from exc
    client: Redis = Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
    return client
