"""Per-key usage, summed per UTC day, persona and model. Functions flush, never commit."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from thinkingthoughts.storage.models import KeyUsage


async def add_usage(
    db: AsyncSession,
    *,
    key_id: str,
    day: date,
    persona: str,
    model: str,
    prompt_tokens: int,
    completion_tokens: int,
    requests: int = 1,
) -> None:
    """Count requests and their tokens: one atomic upsert, safe under concurrency."""
    values = {
        "key_id": key_id,
        "day": day,
        "persona": persona,
        "model": model,
        "requests": requests,
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
    }
    dialect = postgresql if db.get_bind().dialect.name == "postgresql" else sqlite
    insert = dialect.insert(KeyUsage).values(**values)
    await db.execute(
        insert.on_conflict_do_update(
            index_elements=["key_id", "day", "persona", "model"],
            set_={
                "requests": KeyUsage.requests + requests,
                "prompt_tokens": KeyUsage.prompt_tokens + prompt_tokens,
                "completion_tokens": KeyUsage.completion_tokens + completion_tokens,
            },
        )
    )


async def read_usage(db: AsyncSession, *, key_id: str, since: date) -> list[KeyUsage]:
    """The key's rows from `since` on, oldest day first."""
    query = (
        select(KeyUsage)
        .where(KeyUsage.key_id == key_id, KeyUsage.day >= since)
        .order_by(KeyUsage.day, KeyUsage.persona, KeyUsage.model)
    )
    return list(await db.scalars(query))
