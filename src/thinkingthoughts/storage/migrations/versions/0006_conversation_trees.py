"""Conversations are trees: a message has a parent and the size of its path, a session
has an active leaf. Every existing conversation becomes a one-branch tree, unchanged:
each message's parent is the previous message by seq, the active leaf is the last one.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-09 00:00:00+00:00

`path_tokens` is the running sum of `estimate_message_tokens` along the path. Online it
is computed exactly, session by session; `upgrade --sql` cannot read rows, so its script
writes the same sum in SQL, exact for ASCII text (it counts other characters at a third
of a token each, where the estimator counts one).
Downgrading drops the tree: the messages of every branch stay, read in seq order as one
line again.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import sqlalchemy as sa
from alembic import context, op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MESSAGE_OVERHEAD_TOKENS = 4
ASCII_CHARS_PER_TOKEN = 3
"""`context.tokens` as it stands at this revision: migrations never import the application."""

BACKFILL_BATCH = 1000

_PARENT_BY_SEQ = sa.text(
    "UPDATE messages SET parent_id = ("
    " SELECT previous.id FROM messages AS previous"
    " WHERE previous.session_id = messages.session_id AND previous.seq < messages.seq"
    " ORDER BY previous.seq DESC LIMIT 1)"
)
_ACTIVE_LEAF = sa.text(
    "UPDATE sessions SET active_leaf_id = ("
    " SELECT last.id FROM messages AS last WHERE last.session_id = sessions.id"
    " ORDER BY last.seq DESC LIMIT 1),"
    " message_count = (SELECT count(*) FROM messages AS m WHERE m.session_id = sessions.id)"
)
_PATH_TOKENS_ASCII = sa.text(
    "UPDATE messages SET path_tokens = ("
    " SELECT sum((length(earlier.content) + 2) / 3 + 4) FROM messages AS earlier"
    " WHERE earlier.session_id = messages.session_id AND earlier.seq <= messages.seq)"
)


def _messages() -> sa.Table:
    """The table as it stands at 0005: SQLite's batch mode copies it without reflecting
    it, so `upgrade --sql` works too."""
    return sa.Table(
        "messages",
        sa.MetaData(),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("session_id", sa.String(length=36), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="complete", nullable=False),
        sa.Column("prompt_tokens", sa.Integer(), nullable=True),
        sa.Column("completion_tokens", sa.Integer(), nullable=True),
        sa.Column("model", sa.String(length=200), nullable=True),
        sa.Column("finish_reason", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("tool_calls", sa.JSON(), nullable=True),
        sa.CheckConstraint("role IN ('system', 'user', 'assistant')", name="ck_messages_role"),
        sa.CheckConstraint(
            "status IN ('complete', 'interrupted', 'error')", name="ck_messages_status"
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["sessions.id"],
            name="fk_messages_session_id_sessions",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_messages"),
        sa.UniqueConstraint("session_id", "seq", name="uq_messages_session_id_seq"),
    )


def upgrade() -> None:
    with op.batch_alter_table("messages", copy_from=_messages()) as batch:
        batch.add_column(sa.Column("parent_id", sa.String(length=36), nullable=True))
        batch.add_column(
            sa.Column("path_tokens", sa.Integer(), server_default=sa.text("0"), nullable=False)
        )
        batch.create_foreign_key(
            op.f("fk_messages_parent_id_messages"),
            "messages",
            ["parent_id"],
            ["id"],
            ondelete="CASCADE",
        )
        batch.create_index(
            "ix_messages_session_id_parent_id", ["session_id", "parent_id"], unique=False
        )
    op.add_column("sessions", sa.Column("active_leaf_id", sa.String(length=36), nullable=True))
    op.execute(_PARENT_BY_SEQ)
    op.execute(_ACTIVE_LEAF)
    if context.is_offline_mode():
        op.execute(_PATH_TOKENS_ASCII)
    else:
        _backfill_path_tokens(op.get_bind())


def downgrade() -> None:
    with op.batch_alter_table("sessions") as batch:
        batch.drop_column("active_leaf_id")
    op.execute(
        sa.text(
            "UPDATE sessions SET message_count ="
            " (SELECT count(*) FROM messages AS m WHERE m.session_id = sessions.id)"
        )
    )
    with op.batch_alter_table("messages") as batch:
        batch.drop_index("ix_messages_session_id_parent_id")
        batch.drop_constraint(op.f("fk_messages_parent_id_messages"), type_="foreignkey")
        batch.drop_column("path_tokens")
        batch.drop_column("parent_id")


def estimate_message_tokens(content: str) -> int:
    ascii_chars = len(content) if content.isascii() else len(content.encode("ascii", "ignore"))
    non_ascii = len(content) - ascii_chars
    return -(-ascii_chars // ASCII_CHARS_PER_TOKEN) + non_ascii + MESSAGE_OVERHEAD_TOKENS


def _backfill_path_tokens(connection: sa.Connection) -> None:
    """The running sum along each session's (linear) messages, a page of rows at a time."""
    update = sa.text("UPDATE messages SET path_tokens = :path_tokens WHERE id = :message_id")
    for page in _running_path_tokens(connection):
        connection.execute(update, page)


_NEXT_PAGE = sa.text(
    "SELECT id, session_id, seq, content FROM messages"
    " WHERE session_id > :session_id OR (session_id = :session_id AND seq > :seq)"
    " ORDER BY session_id, seq LIMIT :limit"
)


def _running_path_tokens(connection: sa.Connection) -> Iterator[list[dict[str, object]]]:
    session_id, seq, running = "", 0, 0
    while True:
        rows = connection.execute(
            _NEXT_PAGE, {"session_id": session_id, "seq": seq, "limit": BACKFILL_BATCH}
        ).all()
        if not rows:
            return
        page: list[dict[str, object]] = []
        for message_id, message_session_id, message_seq, content in rows:
            if message_session_id != session_id:
                running = 0
            session_id, seq = message_session_id, message_seq
            running += estimate_message_tokens(content)
            page.append({"message_id": message_id, "path_tokens": running})
        yield page
