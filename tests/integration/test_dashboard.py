"""The Grafana dashboard asks only for what the gateway exports: every metric its
Prometheus queries name is on a live /metrics after traffic, and where the traffic gave
a series samples, they carry the labels the queries group and filter by."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.live_servers import LiveGateway
from tests.integration.test_metrics import stream_events

DASHBOARD = (
    Path(__file__).parents[2] / "deploy" / "grafana" / "dashboards" / "thinkingthoughts.json"
)
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "gauge": ("",)}


def prometheus_queries(dashboard: dict[str, Any]) -> list[str]:
    return [
        target["expr"]
        for panel in dashboard["panels"]
        if panel["datasource"]["type"] == "prometheus"
        for target in panel["targets"]
    ]


def metric_names(expr: str) -> set[str]:
    """The series a PromQL expression reads: identifiers that are not functions, labels,
    ranges or grouping clauses."""
    bare = re.sub(r"\{[^}]*\}|\[[^\]]*\]", "", expr)
    bare = re.sub(r"\b(?:by|without)\s*\([^)]*\)", "", bare)
    return set(re.findall(r"\b[a-zA-Z_:][a-zA-Z0-9_:]*\b(?!\s*\()", bare))


def label_names(expr: str) -> set[str]:
    grouped = re.findall(r"\b(?:by|without)\s*\(([^)]*)\)", expr)
    matched = re.findall(
        r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)", " ".join(re.findall(r"\{([^}]*)\}", expr))
    )
    return {name.strip() for group in grouped for name in group.split(",")} | set(matched)


def exported(metrics_text: str) -> dict[str, set[str]]:
    """Every series name /metrics declares, with the labels its samples carry."""
    series: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(metrics_text):
        for suffix in SUFFIXES.get(family.type, ("",)):
            series.setdefault(family.name + suffix, set())
        for sample in family.samples:
            series.setdefault(sample.name, set()).update(sample.labels)
    return series


def test_the_parser_finds_metrics_and_labels() -> None:
    expr = (
        'histogram_quantile(0.95, sum by (le, route) (rate(tt_x_bucket{status=~"5.."}'
        "[$__rate_interval]))) / sum(tt_y)"
    )
    assert metric_names(expr) == {"tt_x_bucket", "tt_y"}
    assert label_names(expr) == {"le", "route", "status"}


def test_every_dashboard_query_reads_exported_series(
    gateway: LiveGateway, admin: httpx.Client
) -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    assert admin.post("/api/chat", json={"message": "hello"}).status_code == 200
    limited = admin.post(
        "/api/keys", json={"name": "one", "scopes": ["read"], "requests_per_minute": 1}
    )
    with gateway.client(limited.json()["secret"]) as client:
        assert [client.get("/api/personas").status_code for _ in range(2)] == [200, 429]
    assert any(e.startswith("event: done") for e in stream_events(admin, {"message": "hi"}))
    series = exported(admin.get("/metrics").text)

    queries = prometheus_queries(dashboard)
    assert len(queries) >= 10
    for expr in queries:
        names = metric_names(expr)
        assert names, expr
        assert names <= series.keys(), f"{expr}: {sorted(names - series.keys())}"
        carried = set().union(*(series[name] for name in names))
        if carried:  # the traffic gave these series samples
            missing = label_names(expr) - carried - {"le"}
            assert not missing, f"{expr}: labels {sorted(missing)}"
