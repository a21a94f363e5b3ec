"""Parallel test workers each get a Redis database of their own."""

from __future__ import annotations

import pytest

from tests.conftest import worker_redis_url


@pytest.mark.parametrize(
    ("worker", "expected"),
    [
        (None, "redis://127.0.0.1:6379/15"),
        ("master", "redis://127.0.0.1:6379/15"),
        ("gw0", "redis://127.0.0.1:6379/15"),
        ("gw1", "redis://127.0.0.1:6379/14"),
        ("gw3", "redis://127.0.0.1:6379/12"),
    ],
)
def test_each_worker_counts_down_from_the_configured_database(
    worker: str | None, expected: str
) -> None:
    assert worker_redis_url("redis://127.0.0.1:6379/15", worker) == expected


def test_a_worker_beyond_the_databases_is_a_usage_error() -> None:
    with pytest.raises(pytest.UsageError):
        worker_redis_url("redis://127.0.0.1:6379/1", "gw2")
