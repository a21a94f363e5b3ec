"""The first start's admin key."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from thinkingthoughts.access.bootstrap import ensure_bootstrap_admin_key
from thinkingthoughts.storage.database import Database


async def test_a_failed_key_file_write_does_not_lose_the_bootstrap_admin_key(
    database: Database, tmp_path: Path
) -> None:
    """The key is committed before its file is written; if the write fails, the next start
    sees a key, creates none, and nobody ever saw the first one."""
    key_file = tmp_path / "data" / "admin.key"
    key_file.mkdir(parents=True)  # the write will fail
    with pytest.raises(IsADirectoryError):
        await ensure_bootstrap_admin_key(database, key_file)
    key_file.rmdir()
    secret = await ensure_bootstrap_admin_key(database, key_file)
    assert secret is not None
    assert key_file.read_text().strip() == secret


async def test_the_key_file_is_private_even_if_an_older_one_was_not(
    database: Database, tmp_path: Path
) -> None:
    key_file = tmp_path / "admin.key"
    key_file.write_text("stale\n")
    key_file.chmod(0o644)
    secret = await ensure_bootstrap_admin_key(database, key_file)
    assert secret is not None
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert await ensure_bootstrap_admin_key(database, key_file) is None
    assert key_file.read_text().strip() == secret
