"""Prometheus metrics. Names start with `tt_`; labels take a few fixed values, never ids
or free text, so a scrape stays small whatever the traffic."""

from __future__ import annotations

from prometheus_client import Counter

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
