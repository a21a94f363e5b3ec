"""Which extras the settings need, and the start-up check's message when one is missing."""

from __future__ import annotations

from typing import Any

import pytest

from thinkingthoughts.extras import extras_for, missing_driver_problem, missing_extras
from thinkingthoughts.settings import Settings


def _settings(**values: Any) -> Settings:
    return Settings(_env_file=None, **values)


@pytest.mark.parametrize(
    ("values", "extras"),
    [
        ({}, []),
        ({"database_url": "sqlite:///x.db"}, []),
        ({"database_url": "postgresql://u@h/db"}, ["postgres"]),
        ({"database_url": "postgresql+asyncpg://u@h/db"}, ["postgres"]),
        ({"redis_url": "redis://h:6379/0"}, ["redis"]),
        ({"otel_exporter_otlp_endpoint": "http://collector:4318"}, ["otel"]),
        (
            {"otel_exporter_otlp_endpoint": "http://collector:4318", "otel_sdk_disabled": True},
            [],
        ),
        (
            {
                "database_url": "postgresql://u@h/db",
                "redis_url": "rediss://h",
                "otel_exporter_otlp_traces_endpoint": "http://c:4318/v1/traces",
            },
            ["postgres", "redis", "otel"],
        ),
    ],
)
def test_the_settings_name_the_extras_they_need(values: dict[str, Any], extras: list[str]) -> None:
    assert extras_for(_settings(**values)) == extras
    assert extras_for(_settings(**values), with_ui=True) == ["ui", *extras]


def test_only_extras_whose_module_does_not_import_are_missing() -> None:
    importable = {"asyncpg"}.__contains__

    assert missing_extras(["postgres", "redis"], importable=importable) == ["redis"]


def test_a_missing_postgresql_driver_is_said_with_the_extra_to_install() -> None:
    settings = _settings(database_url="postgresql://u@h/db")

    problem = missing_driver_problem(settings, importable=lambda module: module != "asyncpg")

    assert problem is not None
    assert problem.startswith("DATABASE_URL names PostgreSQL")
    assert "pip install 'thinkingthoughts[postgres]'" in problem


def test_missing_drivers_for_database_and_redis_are_said_together() -> None:
    settings = _settings(database_url="postgresql://u@h/db", redis_url="redis://h")

    problem = missing_driver_problem(settings, importable=lambda module: False)

    assert problem is not None
    assert "DATABASE_URL names PostgreSQL and REDIS_URL is set" in problem
    assert "thinkingthoughts[postgres,redis]" in problem


def test_tracing_without_its_extra_does_not_stop_the_start() -> None:
    settings = _settings(otel_exporter_otlp_endpoint="http://collector:4318")

    assert missing_driver_problem(settings, importable=lambda module: False) is None


def test_installed_drivers_raise_no_problem() -> None:
    settings = _settings(database_url="postgresql://u@h/db", redis_url="redis://h")

    assert missing_driver_problem(settings, importable=lambda module: True) is None
