"""What one simulator app remembers: counters, recent request bodies, the failure dice."""

from __future__ import annotations

import enum
import random
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from thinkingthoughts.simulator.config import SimulatorConfig


class InjectedFailure(enum.Enum):
    RATE_LIMITED = "429"
    SERVER_ERROR = "500"
    DROPPED = "drop"


def draw_failure(rng: random.Random, config: SimulatorConfig) -> InjectedFailure | None:
    """Which failure, if any, this request gets; each with its configured share of requests."""
    if config.failure_rate == 0.0:
        return None
    roll = rng.random()
    for failure, rate in (
        (InjectedFailure.RATE_LIMITED, config.fail_429_rate),
        (InjectedFailure.SERVER_ERROR, config.fail_500_rate),
        (InjectedFailure.DROPPED, config.drop_rate),
    ):
        if roll < rate:
            return failure
        roll -= rate
    return None


@dataclass(slots=True)
class SimulatorStats:
    """Counters that let tests see what happened on the simulator's side of a connection.

    `requests` counts chat completion requests, whatever their answer.
    A stream is *cancelled* when its client went away before the end, and *dropped* when
    the simulator cut it on purpose (an injected failure).
    """

    requests: int = 0
    active_streams: int = 0
    completed_streams: int = 0
    cancelled_streams: int = 0
    dropped_streams: int = 0
    injected_failures: dict[str, int] = field(
        default_factory=lambda: {failure.value: 0 for failure in InjectedFailure}
    )

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "active_streams": self.active_streams,
            "completed_streams": self.completed_streams,
            "cancelled_streams": self.cancelled_streams,
            "dropped_streams": self.dropped_streams,
            "injected_failures": dict(self.injected_failures),
        }


RECORDED_HEADERS = ("x-request-id", "traceparent")
"""Headers vLLM reads from a request: its id, and the OpenTelemetry context to join."""


@dataclass(slots=True)
class SimulatorState:
    """Built once per app and kept on it; handlers reach it with `request.app[STATE]`."""

    config: SimulatorConfig
    created: int
    rng: random.Random
    recorded_requests: deque[dict[str, Any]]
    recorded_headers: deque[dict[str, str]]
    """The RECORDED_HEADERS each recorded request carried (request id, trace context)."""
    stats: SimulatorStats = field(default_factory=SimulatorStats)

    @classmethod
    def for_config(cls, config: SimulatorConfig, *, created: int) -> SimulatorState:
        return cls(
            config=config,
            created=created,
            rng=random.Random(config.seed),  # noqa: S311 - failure dice, not security
            recorded_requests=deque(maxlen=config.record_requests),
            recorded_headers=deque(maxlen=config.record_requests),
        )

    def record(self, body: dict[str, Any], *, headers: Mapping[str, str] | None = None) -> None:
        self.recorded_requests.append(body)
        given = headers or {}
        self.recorded_headers.append({k: given[k] for k in RECORDED_HEADERS if k in given})

    def next_failure(self) -> InjectedFailure | None:
        failure = draw_failure(self.rng, self.config)
        if failure is not None:
            self.stats.injected_failures[failure.value] += 1
        return failure
