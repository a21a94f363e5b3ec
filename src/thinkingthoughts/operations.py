"""What the CLI does beyond serving: key creation, the legacy persona import, and the
housekeeping of stored conversations (purge, export)."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TypeVar

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from thinkingthoughts.access.api_keys import Scope
from thinkingthoughts.access.key_management import KeyInfo, issue_key
from thinkingthoughts.access.key_policy import KeyPolicy
from thinkingthoughts.conversations.transcript_reader import (
    ExportFormat,
    read_transcript,
    rendered_transcript,
)
from thinkingthoughts.errors import SessionNotFoundError
from thinkingthoughts.personas.catalog import load_trait_catalog
from thinkingthoughts.personas.legacy import legacy_row_to_sheet
from thinkingthoughts.settings import Settings
from thinkingthoughts.storage import persona_store, session_store
from thinkingthoughts.storage.clock import utcnow
from thinkingthoughts.storage.database import Database, async_database_url
from thinkingthoughts.storage.migrate import upgrade_database_async
from thinkingthoughts.usage.report import UsageReport

T = TypeVar("T")

LEGACY_QUERY = text("SELECT * FROM public.models ORDER BY id")
AGE_UNITS = {"m": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(days=1),
             "w": timedelta(weeks=1)}  # fmt: skip
_AGE = re.compile(r"(\d+)([mhdw])")


def parse_age(text: str) -> timedelta:
    """`30d`, `12h`, `2w`, `90m` as a duration; ValueError for anything else."""
    match = _AGE.fullmatch(text.strip().lower())
    if match is None or int(match.group(1)) == 0:
        raise ValueError(f"'{text}' is not an age like 30d, 12h, 2w or 90m")
    return int(match.group(1)) * AGE_UNITS[match.group(2)]


@dataclass(frozen=True)
class PurgeReport:
    cutoff: datetime
    sessions: int
    dry_run: bool

    def line(self) -> str:
        verb = "would delete" if self.dry_run else "deleted"
        since = self.cutoff.isoformat(timespec="seconds")
        return f"{verb} {self.sessions} sessions idle since {since}"


async def purge_sessions(
    database: Database, *, older_than: timedelta, dry_run: bool
) -> PurgeReport:
    """Delete the sessions (and their messages) idle for longer than `older_than`."""
    cutoff = utcnow() - older_than
    async with database.transaction() as db:
        if dry_run:
            count = await session_store.count_sessions_idle_since(db, cutoff=cutoff)
        else:
            count = await session_store.delete_sessions_idle_since(db, cutoff=cutoff)
    return PurgeReport(cutoff=cutoff, sessions=count, dry_run=dry_run)


async def export_session(database: Database, session_id: str, export_format: ExportFormat) -> bytes:
    """One conversation, whoever owns it, as Markdown or JSON."""
    async with database.session() as db:
        session = await session_store.get_session(db, session_id=session_id, owner=None)
        if session is None:
            raise SessionNotFoundError(session_id)
        return rendered_transcript(await read_transcript(db, session), export_format)


@dataclass
class ImportReport:
    imported: list[tuple[str, str]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        lines = [f"imported {name} as '{slug}'" for name, slug in self.imported]
        lines += [f"skipped {name}: a persona with that name exists" for name in self.skipped]
        lines.append(f"{len(self.imported)} imported, {len(self.skipped)} skipped")
        return lines


async def open_migrated_database(settings: Settings) -> Database:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    await upgrade_database_async(settings.resolved_database_url)
    return Database(settings.resolved_database_url)


async def with_database(settings: Settings, work: Callable[[Database], Awaitable[T]]) -> T:
    """Run `work` on the migrated database of these settings, then close it."""
    database = await open_migrated_database(settings)
    try:
        return await work(database)
    finally:
        await database.dispose()


async def create_api_key(
    settings: Settings,
    *,
    name: str,
    scope: Scope,
    owner: str | None = None,
    expires_in_days: int | None = None,
    policy: KeyPolicy | None = None,
) -> str:
    expires_at = utcnow() + timedelta(days=expires_in_days) if expires_in_days else None

    async def create(database: Database) -> str:
        issued = await issue_key(
            database,
            name=name,
            scopes=[scope],
            owner=owner,
            expires_at=expires_at,
            policy=policy,
        )
        return issued.secret

    return await with_database(settings, create)


def describe_key(info: KeyInfo) -> str:
    """One line per key for `keys list`."""
    state = "active" if info.active_at(utcnow()) else "revoked" if info.revoked_at else "expired"
    used = info.last_used_at.isoformat(timespec="seconds") if info.last_used_at else "never"
    expires = info.expires_at.isoformat(timespec="seconds") if info.expires_at else "never"
    line = (
        f"{info.id}  {info.prefix}  {info.name}  scopes={','.join(info.scopes)}  "
        f"owner={info.owner}  {state}  last_used={used}  expires={expires}"
    )
    return " ".join([line, *describe_policy(info.policy)])


def describe_policy(policy: KeyPolicy) -> list[str]:
    """The key's own limits and allow-lists, as `name=value` words; defaults say nothing."""
    words = [
        f"{name}={value}"
        for name, value in (
            ("rpm", policy.requests_per_minute),
            ("tpm", policy.tokens_per_minute),
            ("streams", policy.concurrent_streams),
        )
        if value is not None
    ]
    if policy.allowed_personas is not None:
        words.append("personas=" + ",".join(policy.allowed_personas))
    if policy.allowed_models is not None:
        words.append("models=" + ",".join(policy.allowed_models))
    return words


def describe_usage(report: UsageReport) -> list[str]:
    """`keys usage`: one line per day, persona and model, then the totals."""
    lines = [
        f"{row.day}  {row.persona or '-'}  {row.model}  requests={row.requests}  "
        f"prompt={row.prompt_tokens}  completion={row.completion_tokens}"
        for row in report.rows
    ]
    totals = report.totals
    lines.append(
        f"since {report.since}: requests={totals.requests}  prompt={totals.prompt_tokens}  "
        f"completion={totals.completion_tokens}  total={totals.total_tokens}"
    )
    return lines


async def import_legacy_personas(settings: Settings, *, legacy_database_url: str) -> ImportReport:
    """Copy the prototype's `public.models` rows into personas; rerunning skips known names."""
    legacy = create_async_engine(async_database_url(legacy_database_url))
    try:
        async with legacy.connect() as connection:
            rows = [dict(row._mapping) for row in await connection.execute(LEGACY_QUERY)]
    finally:
        await legacy.dispose()
    catalog_ids = set(load_trait_catalog(settings.traits_file).ids)

    async def store(database: Database) -> ImportReport:
        report = ImportReport()
        async with database.transaction() as db:
            existing = await persona_store.list_personas(db)
            names = {p.name for p in existing}
            taken = {p.slug for p in existing}
            for row in rows:
                sheet = legacy_row_to_sheet(row, taken_slugs=taken)
                if sheet.name in names:
                    report.skipped.append(sheet.name)
                    continue
                sheet = sheet.model_copy(
                    update={
                        "default_traits": {
                            k: v for k, v in sheet.default_traits.items() if k in catalog_ids
                        }
                    }
                )
                await persona_store.create_persona(
                    db, slug=sheet.slug, name=sheet.name, sheet=sheet.model_dump(mode="json")
                )
                taken.add(sheet.slug)
                names.add(sheet.name)
                report.imported.append((sheet.name, sheet.slug))
        return report

    return await with_database(settings, store)
