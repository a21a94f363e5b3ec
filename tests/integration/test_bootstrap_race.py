"""Replicas started together on one empty database: one migrates, seeds and makes the
admin key; the others wait, find it all done, and write no admin.key of their own."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from thinkingthoughts.access.api_keys import hash_key_secret
from thinkingthoughts.personas.seeds import load_seed_personas
from thinkingthoughts.storage.database import Database
from thinkingthoughts.storage.models import ApiKey, Persona

STARTERS = 4
START_TIMEOUT = 90.0

# Each starter imports everything, says it is ready, and prepares the database only when
# the test releases all of them at once (a line on its standard input).
STARTER = """
import asyncio, sys
from pathlib import Path
from thinkingthoughts.app import prepare_storage_once
from thinkingthoughts.settings import Settings

settings = Settings(_env_file=None, database_url=sys.argv[1], data_dir=Path(sys.argv[2]))
print("ready", flush=True)
sys.stdin.readline()
asyncio.run(prepare_storage_once(settings, announce=lambda _: None))
"""


def start_together(database_url: str, data_dirs: list[Path]) -> list[int]:
    """Run one starter per data dir, released at once; their exit codes."""
    environment = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    starters = [
        subprocess.Popen(
            [sys.executable, "-c", STARTER, database_url, str(data_dir)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=environment,
        )
        for data_dir in data_dirs
    ]
    try:
        for starter in starters:
            assert starter.stdout is not None
            assert starter.stdout.readline().strip() == "ready"
        for starter in starters:
            assert starter.stdin is not None
            starter.stdin.write("go\n")
            starter.stdin.flush()
        return [starter.wait(timeout=START_TIMEOUT) for starter in starters]
    finally:
        for starter in starters:
            if starter.poll() is None:
                starter.kill()
                starter.wait()
            for pipe in (starter.stdin, starter.stdout):
                if pipe is not None:
                    pipe.close()


async def stored_counts(database_url: str) -> tuple[int, int, list[str]]:
    """Admin keys, personas, and the stored key hashes."""
    database = Database(database_url)
    try:
        async with database.session() as db:
            personas = await db.scalar(select(func.count()).select_from(Persona))
            hashes = list(await db.scalars(select(ApiKey.secret_hash)))
        return len(hashes), personas or 0, hashes
    finally:
        await database.dispose()


@pytest.mark.parametrize("round_", range(2))
def test_replicas_starting_together_make_one_admin_key_and_seed_once(
    database_url: str, tmp_path: Path, round_: int
) -> None:
    # Each its own data dir (its own host, as it were); on SQLite, one file all the same.
    data_dirs = [tmp_path / f"replica-{n}" for n in range(STARTERS)]
    exit_codes = start_together(database_url, data_dirs)

    assert exit_codes == [0] * STARTERS
    key_files = [d / "admin.key" for d in data_dirs if (d / "admin.key").exists()]
    assert len(key_files) == 1, f"round {round_}: {len(key_files)} admin.key files written"
    keys, personas, hashes = asyncio.run(stored_counts(database_url))
    assert keys == 1
    assert hashes == [hash_key_secret(key_files[0].read_text().strip())]
    assert personas == len(load_seed_personas())  # the shipped examples, once
