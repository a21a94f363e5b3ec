"""What the CLI does beyond serving: key creation and the legacy persona import."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from thinkingthoughts.personas.catalog import load_trait_catalog
from thinkingthoughts.personas.legacy import legacy_row_to_sheet
from thinkingthoughts.security.api_keys import Scope
from thinkingthoughts.security.bootstrap import create_key
from thinkingthoughts.settings import Settings
from thinkingthoughts.storage import persona_store
from thinkingthoughts.storage.database import Database, async_database_url
from thinkingthoughts.storage.migrate import upgrade_database_async

LEGACY_QUERY = text("SELECT * FROM public.models ORDER BY id")


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


async def create_api_key(settings: Settings, *, name: str, scope: Scope) -> str:
    database = await open_migrated_database(settings)
    try:
        return await create_key(database, name=name, scopes=[scope])
    finally:
        await database.dispose()


async def import_legacy_personas(settings: Settings, *, legacy_database_url: str) -> ImportReport:
    """Copy the prototype's `public.models` rows into personas; rerunning skips known names."""
    legacy = create_async_engine(async_database_url(legacy_database_url))
    try:
        async with legacy.connect() as connection:
            rows = [dict(row._mapping) for row in await connection.execute(LEGACY_QUERY)]
    finally:
        await legacy.dispose()
    database = await open_migrated_database(settings)
    catalog_ids = set(load_trait_catalog(settings.traits_file).ids)
    report = ImportReport()
    try:
        async with database.session() as db, db.begin():
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
    finally:
        await database.dispose()
    return report
