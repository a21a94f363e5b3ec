"""Which optional extras the settings need, and whether they are installed.

The core install runs on SQLite, in-process limits and no traces. PostgreSQL, Redis and
OpenTelemetry each come with an extra of their own (`pip install 'thinkingthoughts[postgres]'`).
`extras_for` is pure: settings in, extra names out (`make run` installs them). The
start-up check runs before anything is created, so a missing driver is said in one
line naming the extra, never as a traceback after a key was printed.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable

from thinkingthoughts.observability.tracing import tracing_wanted
from thinkingthoughts.settings import Settings
from thinkingthoughts.storage.database import async_database_url

EXTRA_MODULES: dict[str, str] = {
    "postgres": "asyncpg",
    "redis": "redis",
    "otel": "opentelemetry.exporter.otlp.proto.http.trace_exporter",
    "ui": "streamlit",
}
"""Each extra, and the module whose import proves it is installed."""

REQUIRED_BY: dict[str, str] = {
    "postgres": "DATABASE_URL names PostgreSQL",
    "redis": "REDIS_URL is set",
}
"""Extras without which the gateway cannot start, and the setting that asks for each.
(Without `otel` it starts, untraced, and says so in its log.)"""

ModuleCheck = Callable[[str], bool]


def extras_for(settings: Settings, *, with_ui: bool = False) -> list[str]:
    """The extras these settings need, in a stable order (`ui` first when asked)."""
    needed = ["ui"] if with_ui else []
    if async_database_url(settings.resolved_database_url).get_driver_name() == "asyncpg":
        needed.append("postgres")
    if settings.redis_url:
        needed.append("redis")
    if tracing_wanted(settings):
        needed.append("otel")
    return needed


def module_importable(name: str) -> bool:
    """Whether `name` imports: a broken install counts as a missing one."""
    try:
        importlib.import_module(name)
    except ImportError:
        return False
    return True


def missing_extras(
    extras: Iterable[str], *, importable: ModuleCheck = module_importable
) -> list[str]:
    return [extra for extra in extras if not importable(EXTRA_MODULES[extra])]


def missing_driver_problem(
    settings: Settings, *, importable: ModuleCheck = module_importable
) -> str | None:
    """What to install before the gateway can start with these settings; None when
    every driver they need imports."""
    required = [extra for extra in extras_for(settings) if extra in REQUIRED_BY]
    missing = missing_extras(required, importable=importable)
    if not missing:
        return None
    reasons = " and ".join(REQUIRED_BY[extra] for extra in missing)
    drivers = "its driver is" if len(missing) == 1 else "their drivers are"
    return (
        f"{reasons}, but {drivers} not installed: "
        f"pip install 'thinkingthoughts[{','.join(missing)}]' "
        "(`make run` installs what the settings need)"
    )
