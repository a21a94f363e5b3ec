"""A scenario's report: its figures, the targets checked against them, as a Markdown table
for people and as JSON for the record. Pure."""

from __future__ import annotations

import math
import os
import platform
from dataclasses import asdict, dataclass, field
from typing import Any

from thinkingthoughts.bench.stats import Summary


@dataclass(frozen=True)
class Check:
    """One target of the issue, and whether this run met it (None: not measured)."""

    name: str
    measured: str
    met: bool | None


@dataclass
class ScenarioReport:
    scenario: str
    description: str
    options: dict[str, Any]
    summaries: list[Summary] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    series: dict[str, list[Any]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def summary(self, target: str) -> Summary | None:
        return next((s for s in self.summaries if s.target == target), None)


COLUMNS = (
    ("target", "target"),
    ("requests", "requests"),
    ("req/s", "rps"),
    ("p50 ms", "p50_ms"),
    ("p90 ms", "p90_ms"),
    ("p99 ms", "p99_ms"),
    ("TTFT p50 ms", "ttft_p50_ms"),
    ("TTFT p99 ms", "ttft_p99_ms"),
    ("tokens/s", "tokens_per_s"),
    ("errors", "errors"),
    ("stalled", "stalled"),
    ("server CPU ms/req", "server_cpu_ms"),
    ("load CPU ms/req", "loadgen_cpu_ms"),
)


def cell(value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, float):
        return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.2f}"
    return str(value)


def markdown(report: ScenarioReport) -> str:
    """The report as Markdown: the figures, then each target met or missed."""
    lines = [f"### {report.scenario}", "", report.description, ""]
    options = ", ".join(f"{k}={v}" for k, v in report.options.items())
    lines += [f"Options: {options}", ""]
    if report.summaries:
        lines.append("| " + " | ".join(title for title, _ in COLUMNS) + " |")
        lines.append("|---|" + "--:|" * (len(COLUMNS) - 1))
        for summary in report.summaries:
            values = asdict(summary)
            lines.append("| " + " | ".join(cell(values[name]) for _, name in COLUMNS) + " |")
        lines.append("")
    for name, rows in report.series.items():
        lines.append(f"{name}: " + ", ".join(cell(row) for row in rows))
        lines.append("")
    if report.checks:
        lines += ["| target | measured | met |", "|---|---|---|"]
        for check in report.checks:
            verdict = {True: "yes", False: "**no**", None: "not measured"}[check.met]
            lines.append(f"| {check.name} | {check.measured} | {verdict} |")
        lines.append("")
    lines += [f"- {note}" for note in report.notes]
    return "\n".join(lines).rstrip() + "\n"


def as_json(reports: list[ScenarioReport]) -> dict[str, Any]:
    return {
        "machine": machine(),
        "scenarios": [_finite(asdict(report)) for report in reports],
    }


def machine() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
    }


def _finite(value: Any) -> Any:
    """JSON has no NaN: missing figures become null."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value
