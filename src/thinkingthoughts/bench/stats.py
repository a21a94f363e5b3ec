"""Figures of a load run, and ratios between targets measured in one scenario. Pure."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from thinkingthoughts.bench.loadgen import LoadRun


@dataclass(frozen=True)
class Summary:
    """One target's figures in one run. Times in milliseconds; CPU per request too."""

    target: str
    requests: int
    errors: int
    stalled: int
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    ttft_p50_ms: float | None
    ttft_p99_ms: float | None
    tokens_per_s: float | None
    """Per stream, median: tokens after the first over the time they took."""
    server_cpu_ms: float | None
    loadgen_cpu_ms: float


def percentile(values: Sequence[float], share: float) -> float:
    """The nearest-rank percentile (share in 0..1) of `values`; NaN when there are none."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(share * len(ordered)))
    return ordered[rank - 1]


def summarize(target: str, run: LoadRun, *, server_cpu_seconds: float | None) -> Summary:
    count = len(run.samples)
    ok = [s for s in run.samples if s.ok]
    latencies = [s.latency * 1000 for s in ok]
    first = [s.first_token * 1000 for s in ok if s.first_token is not None]
    rates = [
        (s.tokens - 1) / (s.latency - s.first_token)
        for s in ok
        if s.first_token is not None and s.tokens > 1 and s.latency > s.first_token
    ]
    return Summary(
        target=target,
        requests=count,
        errors=sum(1 for s in run.samples if s.error is not None),
        stalled=sum(1 for s in run.samples if s.stalled),
        rps=len(ok) / run.elapsed if run.elapsed > 0 else 0.0,
        p50_ms=percentile(latencies, 0.50),
        p90_ms=percentile(latencies, 0.90),
        p99_ms=percentile(latencies, 0.99),
        ttft_p50_ms=percentile(first, 0.50) if first else None,
        ttft_p99_ms=percentile(first, 0.99) if first else None,
        tokens_per_s=percentile(rates, 0.50) if rates else None,
        server_cpu_ms=(server_cpu_seconds * 1000 / count)
        if server_cpu_seconds is not None and count
        else None,
        loadgen_cpu_ms=run.loadgen_cpu * 1000 / count if count else 0.0,
    )


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    """numerator / denominator, or None when either is missing or the divisor is 0."""
    if numerator is None or denominator is None or denominator == 0:
        return None
    if math.isnan(numerator) or math.isnan(denominator):
        return None
    return numerator / denominator


def added_ms(value: float | None, baseline: float | None) -> float | None:
    """How much `value` adds over `baseline`, or None when either is missing."""
    if value is None or baseline is None or math.isnan(value) or math.isnan(baseline):
        return None
    return value - baseline
