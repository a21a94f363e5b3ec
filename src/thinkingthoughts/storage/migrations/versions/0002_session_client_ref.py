"""Sessions keyed by a client's own reference (the OpenAI `user` field).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 00:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A unique index rather than a constraint: SQLite adds it without rebuilding the table.
    op.add_column("sessions", sa.Column("client_ref", sa.String(length=128), nullable=True))
    op.create_index(
        "ix_sessions_owner_client_ref", "sessions", ["owner", "client_ref"], unique=True
    )


def downgrade() -> None:
    op.drop_index("ix_sessions_owner_client_ref", table_name="sessions")
    with op.batch_alter_table("sessions") as batch:
        batch.drop_column("client_ref")
