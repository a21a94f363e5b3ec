"""Every write goes through the unit of work (`Database.transaction()` or `Database.run`)
and is a SQLAlchemy Core statement: no route or service opens its own transaction on a
session, and no ORM object is added, deleted or flushed."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parents[2] / "src" / "thinkingthoughts"
UNIT_OF_WORK = PACKAGE / "storage" / "database.py"
ORM_WRITES = frozenset({"add", "add_all", "delete", "flush", "merge", "commit"})
"""Session methods that write through the ORM or end a transaction on their own."""


def writes_around_the_unit_of_work(source: str) -> list[str]:
    """`<session>.begin()`, and ORM writes on a session (by its conventional names)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        target = node.func.value
        if not isinstance(target, ast.Name) or target.id not in {"db", "session"}:
            continue
        if node.func.attr == "begin" or node.func.attr in ORM_WRITES:
            found.append(f"{target.id}.{node.func.attr}() on line {node.lineno}")
    return found


@pytest.mark.parametrize(
    "path",
    [p for p in sorted(PACKAGE.rglob("*.py")) if p != UNIT_OF_WORK and "migrations" not in p.parts],
    ids=lambda p: str(p.relative_to(PACKAGE)),
)
def test_no_write_goes_around_the_unit_of_work(path: Path) -> None:
    assert writes_around_the_unit_of_work(path.read_text(encoding="utf-8")) == []


def test_the_check_catches_a_bare_transaction_and_orm_writes() -> None:
    source = (
        "async def f(db, session, other):\n"
        "    async with db.begin():\n"
        "        db.add(row)\n"
        "        await session.flush()\n"
        "        await db.delete(row)\n"
        "    other.add(1)\n"
        "    await db.execute(statement)\n"
    )
    assert writes_around_the_unit_of_work(source) == [
        "db.begin() on line 2",
        "db.add() on line 3",
        "session.flush() on line 4",
        "db.delete() on line 5",
    ]
