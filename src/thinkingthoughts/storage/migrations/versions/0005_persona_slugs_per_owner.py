"""Persona slugs unique per owner: globals among themselves, each owner's private ones
among themselves, so another owner's private slug can be taken without revealing it.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 00:00:00+00:00

Downgrading fails while two owners share a slug: rename one first.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GLOBALS_ONLY = sa.text("owner IS NULL")


def _personas(slug_unique_over: list[str]) -> sa.Table:
    """The table as it stands before the change: SQLite's batch mode copies it without
    reflecting it, so `upgrade --sql` works too."""
    name = "uq_personas_" + "_".join(slug_unique_over)
    return sa.Table(
        "personas",
        sa.MetaData(),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("slug", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("sheet", sa.JSON(), nullable=False),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column("owner", sa.String(length=128), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_personas"),
        sa.UniqueConstraint(*slug_unique_over, name=name),
    )


def upgrade() -> None:
    with op.batch_alter_table("personas", copy_from=_personas(["slug"])) as batch:
        batch.drop_constraint("uq_personas_slug", type_="unique")
        batch.create_unique_constraint(op.f("uq_personas_owner_slug"), ["owner", "slug"])
    op.create_index(
        "uq_personas_global_slug",
        "personas",
        ["slug"],
        unique=True,
        sqlite_where=GLOBALS_ONLY,
        postgresql_where=GLOBALS_ONLY,
    )


def downgrade() -> None:
    op.drop_index("uq_personas_global_slug", table_name="personas")
    with op.batch_alter_table("personas", copy_from=_personas(["owner", "slug"])) as batch:
        batch.drop_constraint("uq_personas_owner_slug", type_="unique")
        batch.create_unique_constraint(op.f("uq_personas_slug"), ["slug"])
