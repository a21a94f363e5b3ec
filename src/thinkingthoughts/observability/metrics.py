"""Prometheus metrics. Names start with `tt_`; labels take a few fixed values, never ids
or free text, so a scrape stays small whatever the traffic."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import Counter, Gauge, Histogram

from thinkingthoughts.errors import GatewayError

RATE_LIMITED = Counter(
    "tt_rate_limited_requests_total",
    "Requests refused with 429, by the limit that refused them.",
    ["limit"],
)
"""`limit`: requests, tokens, streams or auth_failures."""

LIMITER_STORAGE_ERRORS = Counter(
    "tt_rate_limiter_storage_errors_total",
    "Rate-limit checks that could not reach their storage, by what the gateway did then.",
    ["outcome"],
)
"""`outcome`: allowed (fail open) or refused (fail closed)."""

REQUESTS = Counter(
    "tt_http_requests_total",
    "Answered HTTP requests, by route template, method and status code.",
    ["route", "method", "status"],
)

REQUEST_SECONDS = Histogram(
    "tt_http_request_duration_seconds",
    "Time from a request's arrival to the end of its answer (a whole stream for SSE).",
    ["route", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)

FIRST_TOKEN_SECONDS = Histogram(
    "tt_time_to_first_token_seconds",
    "Time from the upstream call to the first token of a streamed reply.",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30),
)

INTER_TOKEN_SECONDS = Histogram(
    "tt_inter_token_latency_seconds",
    "Time between two tokens of a streamed reply.",
    buckets=(0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 5),
)

TOKENS = Counter(
    "tt_tokens_total",
    "Tokens of settled turns, by kind (prompt or completion), persona and upstream model.",
    ["kind", "persona", "model"],
)
"""`persona`: the persona's slug, or '' for a plain upstream model."""

ACTIVE_STREAMS = Gauge(
    "tt_active_streams",
    "Replies being streamed from the upstream right now.",
    multiprocess_mode="livesum",
)

UPSTREAM_ERRORS = Counter(
    "tt_upstream_errors_total",
    "Upstream calls that failed, by the error code the client was given.",
    ["kind"],
)

DATABASE_SECONDS = Histogram(
    "tt_database_transaction_seconds",
    "Time of the gateway's write transactions, waiting for their turn included.",
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5),
)


@contextmanager
def counting_upstream_errors() -> Iterator[None]:
    """Around a call to the upstream: a failure is counted by its code, then goes on."""
    try:
        yield
    except GatewayError as failure:
        UPSTREAM_ERRORS.labels(kind=failure.code).inc()
        raise
