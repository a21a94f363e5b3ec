"""Personas as the gateway serves them: stored sheets, resolved traits, compiled prompts."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from thinkingthoughts.context.assembler import PromptSlots, system_text
from thinkingthoughts.errors import (
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    SlugTakenError,
)
from thinkingthoughts.personas.catalog import (
    TraitCatalog,
    resolve_trait_levels,
    validate_trait_levels,
)
from thinkingthoughts.personas.compiler import compile_prompt_slots
from thinkingthoughts.personas.seeds import load_seed_personas
from thinkingthoughts.personas.sheet import PersonaSheet
from thinkingthoughts.recent_reads import RecentReads
from thinkingthoughts.storage import persona_store
from thinkingthoughts.storage.persona_store import ANY_OWNER, PersonaRow
from thinkingthoughts.value_rules import storable_json

PROMPT_CACHE_SIZE = 2048


@dataclass(frozen=True, slots=True)
class PersonaRecord:
    id: str
    version: int
    sheet: PersonaSheet
    created_at: datetime
    updated_at: datetime
    owner: str | None = None
    """None for a global persona; else the only owner who sees it."""

    @property
    def slug(self) -> str:
        return self.sheet.slug

    @property
    def name(self) -> str:
        return self.sheet.name


def stored_sheet(row: PersonaRow) -> PersonaSheet:
    """The sheet a row holds. A NUL stored before the gateway refused it at the edge (a
    SQLite file holds one) reads as U+FFFD instead of failing every use of the persona."""
    return PersonaSheet.model_validate(storable_json(row.sheet))


def record_from_row(row: PersonaRow) -> PersonaRecord:
    return PersonaRecord(
        id=row.id,
        version=row.version,
        sheet=stored_sheet(row),
        created_at=row.created_at,
        updated_at=row.updated_at,
        owner=row.owner,
    )


class PersonaRegistry:
    """Looks personas up, keeps their sheets valid and compiles their system prompts."""

    def __init__(
        self,
        *,
        catalog: TraitCatalog,
        policy_for_locale: Callable[[str], str],
        default_ref: str,
        cache_seconds: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.catalog = catalog
        self._records: RecentReads[tuple[str, str | None], PersonaRecord] = RecentReads(
            cache_seconds, clock=clock
        )
        self._policy_for_locale = policy_for_locale
        self._default_ref = default_ref
        self._prompts: OrderedDict[tuple[str, int, tuple[tuple[str, int], ...]], PromptSlots] = (
            OrderedDict()
        )

    async def get(
        self, db: AsyncSession, ref: str, *, visible_to: str | None = ANY_OWNER
    ) -> PersonaRecord:
        """A persona by id or slug. With `visible_to`, another owner's private persona
        is answered exactly like a missing one.

        A persona found is remembered for `cache_seconds`: edits made through this
        process apply at once (`forget`), those of another replica within that time."""
        key = (ref, visible_to)
        remembered = self._records.get(key)
        if remembered is not None:
            return remembered
        started = self._records.start_read()
        record = record_from_row(await self._row(db, ref, visible_to))
        self._records.remember(started, key, record)
        return record

    def forget(self) -> None:
        """Drop every remembered persona: one was made, changed or deleted here."""
        self._records.forget()

    async def get_or_default(
        self, db: AsyncSession, ref: str | None, *, visible_to: str | None = ANY_OWNER
    ) -> PersonaRecord:
        return await self.get(db, ref if ref else self._default_ref, visible_to=visible_to)

    def default_among(self, records: Iterable[PersonaRecord]) -> PersonaRecord | None:
        """The persona a request naming none gets (TT_DEFAULT_PERSONA, by id or slug), if
        it is among `records` (a global one before a private one of the same slug)."""
        named = [r for r in records if self._default_ref in (r.id, r.slug)]
        return min(named, key=lambda r: r.owner is not None, default=None)

    async def list(
        self, db: AsyncSession, *, visible_to: str | None = ANY_OWNER
    ) -> list[PersonaRecord]:
        rows = await persona_store.list_personas(db, visible_to=visible_to)
        return [record_from_row(row) for row in rows]

    async def create(
        self, db: AsyncSession, sheet: PersonaSheet, *, owner: str | None = None
    ) -> PersonaRecord:
        """A global persona, or with `owner` one private to that owner. A slug conflicts
        only with personas the owner can see (see `persona_store.slug_in_use`), so the
        answer never reveals another owner's private persona."""
        self._check_default_traits(sheet)
        self.forget()
        if await persona_store.slug_in_use(db, slug=sheet.slug, owner=owner):
            raise SlugTakenError(sheet.slug)
        row = await persona_store.create_persona(
            db, slug=sheet.slug, name=sheet.name, sheet=_sheet_document(sheet), owner=owner
        )
        return record_from_row(row)

    async def update(
        self,
        db: AsyncSession,
        ref: str,
        changes: Mapping[str, Any],
        *,
        editor: str | None = ANY_OWNER,
    ) -> PersonaRecord:
        """Apply `changes` to the sheet. With `editor`, only that owner's own persona
        may change (a global one is for admins)."""
        row = await self._editable_row(db, ref, editor)
        self.forget()
        merged = {**stored_sheet(row).model_dump(), **changes}
        try:
            sheet = PersonaSheet.model_validate(merged)
        except ValidationError as exc:
            raise InvalidRequestError(_first_validation_message(exc)) from exc
        self._check_default_traits(sheet)
        if sheet.slug != row.slug and await persona_store.slug_in_use(
            db, slug=sheet.slug, owner=row.owner, other_than=row.id
        ):
            raise SlugTakenError(sheet.slug)
        row = await persona_store.update_persona(
            db, persona_id=row.id, slug=sheet.slug, name=sheet.name, sheet=_sheet_document(sheet)
        )
        return record_from_row(row)

    async def delete(self, db: AsyncSession, ref: str, *, editor: str | None = ANY_OWNER) -> None:
        row = await self._editable_row(db, ref, editor)
        self.forget()
        await persona_store.delete_persona(db, persona_id=row.id)

    async def _row(self, db: AsyncSession, ref: str, visible_to: str | None) -> PersonaRow:
        row = await persona_store.get_persona(db, ref=ref, visible_to=visible_to)
        if row is None:
            raise NotFoundError(f"no persona '{ref}'", code="persona_not_found")
        return row

    async def _editable_row(self, db: AsyncSession, ref: str, editor: str | None) -> PersonaRow:
        row = await self._row(db, ref, editor)
        if editor is not None and row.owner != editor:
            raise PermissionDeniedError(
                f"persona '{ref}' is global; only an admin key may change it",
                code="persona_read_only",
            )
        return row

    async def seed_if_empty(self, db: AsyncSession) -> int:
        """Store the shipped example personas on first start; returns how many."""
        if await persona_store.count_personas(db) > 0:
            return 0
        sheets = load_seed_personas()
        for sheet in sheets:
            await persona_store.create_persona(
                db, slug=sheet.slug, name=sheet.name, sheet=_sheet_document(sheet)
            )
        return len(sheets)

    def trait_levels(
        self, persona: PersonaRecord, requested: Mapping[str, object]
    ) -> dict[str, int]:
        """The persona's defaults overlaid by valid requested levels (422 otherwise)."""
        valid = validate_trait_levels(self.catalog, requested)
        return resolve_trait_levels(
            self.catalog, persona_defaults=persona.sheet.default_traits, requested=valid
        )

    def system_prompt(self, persona: PersonaRecord, levels: Mapping[str, int]) -> str:
        """The compiled prompt: the persona's slots joined as the assembler joins them."""
        return system_text(self.prompt_slots(persona, levels))

    def prompt_slots(self, persona: PersonaRecord, levels: Mapping[str, int]) -> PromptSlots:
        """The persona's slots of the prompt (policy, sheet, traits), cached by persona
        version and trait levels."""
        key = (persona.id, persona.version, tuple(sorted(levels.items())))
        cached = self._prompts.get(key)
        if cached is not None:
            self._prompts.move_to_end(key)
            return cached
        slots = compile_prompt_slots(
            sheet=persona.sheet,
            trait_levels=levels,
            catalog=self.catalog,
            policy=self._policy_for_locale(persona.sheet.locale),
        )
        self._prompts[key] = slots
        if len(self._prompts) > PROMPT_CACHE_SIZE:
            self._prompts.popitem(last=False)
        return slots

    def _check_default_traits(self, sheet: PersonaSheet) -> None:
        validate_trait_levels(self.catalog, sheet.default_traits)


def _sheet_document(sheet: PersonaSheet) -> dict[str, Any]:
    return sheet.model_dump(mode="json")


def _first_validation_message(error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"])
    return f"{where}: {first['msg']}" if where else str(first["msg"])
