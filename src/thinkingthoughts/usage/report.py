"""A key's usage as its owner and admins read it: totals and per-day rows."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from pydantic import BaseModel

from thinkingthoughts.access.key_management import KeyInfo
from thinkingthoughts.storage import usage_store
from thinkingthoughts.storage.clock import utcnow
from thinkingthoughts.storage.database import Database
from thinkingthoughts.storage.models import KeyUsage


class UsageFigures(BaseModel):
    requests: int
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class UsageRow(UsageFigures):
    day: date
    persona: str | None
    """The persona's slug; null for turns on a plain upstream model."""
    model: str


class UsageReport(BaseModel):
    key_id: str
    name: str
    last_used_at: datetime | None
    since: date
    totals: UsageFigures
    rows: list[UsageRow]


def usage_row(row: KeyUsage) -> UsageRow:
    return UsageRow(
        day=row.day,
        persona=row.persona or None,
        model=row.model,
        requests=row.requests,
        prompt_tokens=row.prompt_tokens,
        completion_tokens=row.completion_tokens,
        total_tokens=row.prompt_tokens + row.completion_tokens,
    )


def usage_totals(rows: list[UsageRow]) -> UsageFigures:
    prompt = sum(r.prompt_tokens for r in rows)
    completion = sum(r.completion_tokens for r in rows)
    return UsageFigures(
        requests=sum(r.requests for r in rows),
        prompt_tokens=prompt,
        completion_tokens=completion,
        total_tokens=prompt + completion,
    )


def first_day(days: int) -> date:
    """The first UTC day of a report covering the last `days` days, today included."""
    return utcnow().date() - timedelta(days=days - 1)


async def read_usage_report(database: Database, key: KeyInfo, *, days: int) -> UsageReport:
    since = first_day(days)
    async with database.session() as db:
        rows = [usage_row(r) for r in await usage_store.read_usage(db, key_id=key.id, since=since)]
    return UsageReport(
        key_id=key.id,
        name=key.name,
        last_used_at=key.last_used_at,
        since=since,
        totals=usage_totals(rows),
        rows=rows,
    )
