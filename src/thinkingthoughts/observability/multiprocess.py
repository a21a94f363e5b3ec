"""Metrics of several worker processes, exposed as one: prometheus_client's multiprocess
mode. Each worker writes its values to files in a shared directory; a scrape of any
worker adds them up. The directory must be set (PROMETHEUS_MULTIPROC_DIR) before a
worker imports prometheus_client, and emptied before the workers start."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from prometheus_client import REGISTRY, CollectorRegistry, generate_latest, multiprocess

ENVIRONMENT_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"


@contextmanager
def shared_metrics_directory(configured: Path | None) -> Iterator[Path]:
    """A directory for the workers' metrics, in the environment they inherit.

    A configured directory is emptied of an earlier run's files and kept; otherwise a
    temporary one is made and removed at the end.
    """
    if configured is not None:
        configured.mkdir(parents=True, exist_ok=True)
        for stale in configured.glob("*.db"):
            stale.unlink()
        directory, owned = configured, False
    else:
        directory, owned = Path(tempfile.mkdtemp(prefix="tt-metrics-")), True
    previous = os.environ.get(ENVIRONMENT_VARIABLE)
    os.environ[ENVIRONMENT_VARIABLE] = str(directory)
    try:
        yield directory
    finally:
        if previous is None:
            os.environ.pop(ENVIRONMENT_VARIABLE, None)
        else:
            os.environ[ENVIRONMENT_VARIABLE] = previous
        if owned:
            shutil.rmtree(directory, ignore_errors=True)


def shared_directory_of_this_process() -> Path | None:
    """The directory prometheus_client writes this process's values to, if any.

    Read from the environment, as prometheus_client itself does when first imported (a
    value only in `.env` never reached it, so this process keeps its values in memory).
    """
    directory = os.environ.get(ENVIRONMENT_VARIABLE)
    return Path(directory) if directory else None


def render_metrics() -> bytes:
    """The Prometheus text of this process, or of every worker sharing its directory."""
    shared_directory = shared_directory_of_this_process()
    if shared_directory is None:
        return generate_latest(REGISTRY)
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=str(shared_directory))  # type: ignore[no-untyped-call]
    return generate_latest(registry)


def forget_this_process() -> None:
    """At a worker's exit: its live gauges (active streams) stop counting."""
    shared_directory = shared_directory_of_this_process()
    if shared_directory is not None:
        multiprocess.mark_process_dead(os.getpid(), str(shared_directory))  # type: ignore[no-untyped-call]
