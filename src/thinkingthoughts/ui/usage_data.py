"""Usage reports (`GET /api/keys/{ref}/usage`) summed into chart columns. Pure."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from typing import Any

FIGURES = ("requests", "prompt_tokens", "completion_tokens", "total_tokens")

Columns = dict[str, list[Any]]


def report_rows(reports: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Every row of every report, one list (rows of several keys add up)."""
    rows: list[Mapping[str, Any]] = []
    for report in reports:
        rows.extend(r for r in report.get("rows") or [] if isinstance(r, Mapping))
    return rows


def totals(rows: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    summed = dict.fromkeys(FIGURES, 0)
    for row in rows:
        for figure in FIGURES:
            summed[figure] += _count(row, figure)
    return summed


def per_day(rows: Iterable[Mapping[str, Any]]) -> Columns:
    """Columns `day` (oldest first) and each figure, summed over personas, models and keys."""
    return _grouped(rows, "day", lambda row: str(row.get("day") or ""))


def per_persona(rows: Iterable[Mapping[str, Any]], no_persona: str) -> Columns:
    """Columns `persona` (by requests, most first) and each figure."""
    columns = _grouped(rows, "persona", lambda row: str(row.get("persona") or no_persona))
    order = sorted(
        range(len(columns["persona"])),
        key=lambda i: (-columns["requests"][i], columns["persona"][i]),
    )
    return {name: [values[i] for i in order] for name, values in columns.items()}


def _grouped(
    rows: Iterable[Mapping[str, Any]], name: str, group: Callable[[Mapping[str, Any]], str]
) -> Columns:
    sums: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(FIGURES, 0))
    for row in rows:
        bucket = sums[group(row)]
        for figure in FIGURES:
            bucket[figure] += _count(row, figure)
    keys = sorted(sums)
    columns: Columns = {name: keys}
    for figure in FIGURES:
        columns[figure] = [sums[key][figure] for key in keys]
    return columns


def _count(row: Mapping[str, Any], figure: str) -> int:
    value = row.get(figure)
    if figure == "total_tokens" and not isinstance(value, int):
        return _count(row, "prompt_tokens") + _count(row, "completion_tokens")
    return value if isinstance(value, int) and not isinstance(value, bool) else 0
