"""The command line: keys, database, settings errors, and the legacy persona import."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from typer.testing import CliRunner

from tests.integration.live_servers import on_database
from thinkingthoughts.access.authenticator import KeyAuthenticator
from thinkingthoughts.access.principal import Principal
from thinkingthoughts.cli import app
from thinkingthoughts.settings import SQLITE_FILE_NAME
from thinkingthoughts.storage import persona_store, usage_store
from thinkingthoughts.storage.clock import utcnow
from thinkingthoughts.storage.database import Database, async_database_url

runner = CliRunner()


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    for name in ("DATABASE_URL", "LLM_BASE_URL", "VLLM_API_BASE_URL", "TT_DATA_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TT_DATA_DIR", str(tmp_path / "data"))
    return tmp_path


def _authenticate(database_url: str, secret: str) -> Principal:
    return on_database(
        database_url, lambda database: KeyAuthenticator(database).authenticate(secret)
    )


def test_keys_create_prints_the_secret_alone_and_it_authenticates(workdir: Path) -> None:
    result = runner.invoke(app, ["keys", "create", "--name", "ci", "--scope", "read"])

    assert result.exit_code == 0, result.output
    secret = result.stdout.strip()
    assert result.stdout == secret + "\n"
    assert secret.startswith("tt_")
    url = f"sqlite+aiosqlite:///{workdir / 'data' / SQLITE_FILE_NAME}"
    principal = _authenticate(url, secret)
    assert principal.name == "ci"
    assert {scope.value for scope in principal.scopes} == {"read"}


def test_keys_create_refuses_an_unknown_scope(workdir: Path) -> None:
    result = runner.invoke(app, ["keys", "create", "--name", "x", "--scope", "root"])
    assert result.exit_code == 2


def test_db_upgrade_creates_the_database(workdir: Path) -> None:
    result = runner.invoke(app, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert (workdir / "data" / SQLITE_FILE_NAME).exists()
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0


def test_an_invalid_setting_stops_with_one_line_naming_it(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAX_TOKENS", "plenty")
    result = runner.invoke(app, ["db", "upgrade"])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: invalid setting MAX_TOKENS")


def test_serve_without_an_inference_server_says_what_to_do(workdir: Path) -> None:
    result = runner.invoke(app, ["serve"])
    assert result.exit_code == 2
    assert "LLM_BASE_URL" in result.stderr
    assert "thinkingthoughts up" in result.stderr


def test_simulate_refuses_impossible_knobs(workdir: Path) -> None:
    result = runner.invoke(app, ["simulate", "--fail-500", "1.5"])
    assert result.exit_code == 2
    assert "error:" in result.stderr


LEGACY_TABLE = """
CREATE TABLE public.models (
    id serial PRIMARY KEY, name text, base_prompt text, age integer,
    personality_tone text, personality_humor text, personality_favorite_expressions text[],
    preferences_interests text[], preferences_forbidden_topics text[],
    preferences_emoji_usage text, interactions_message_style text, gender text, race text,
    eye_color text, hair_color text, hair_type text
)
"""
LEGACY_ROWS = """
INSERT INTO public.models (name, base_prompt, age, personality_tone, personality_humor,
    personality_favorite_expressions, preferences_interests, preferences_forbidden_topics,
    preferences_emoji_usage, interactions_message_style, gender, race, eye_color, hair_color,
    hair_type)
VALUES
 ('Léa Martin', 'Tu es Léa, une guide de musée.', 31, 'chaleureux', 'léger',
  ARRAY['voyons voir'], ARRAY['peinture', 'histoire'], ARRAY['politique'], 'rare', 'court',
  'female', NULL, 'green', 'brown', 'curly'),
 ('Max', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)
"""


@pytest.mark.postgres
def test_import_legacy_copies_the_prototype_characters(
    workdir: Path, postgres_database_url: str
) -> None:
    async def create_legacy_table() -> None:
        engine = create_async_engine(async_database_url(postgres_database_url))
        async with engine.begin() as connection:
            await connection.execute(text(LEGACY_TABLE))
            await connection.execute(text(LEGACY_ROWS))
        await engine.dispose()

    asyncio.run(create_legacy_table())
    arguments = ["personas", "import-legacy", "--database-url", postgres_database_url]

    first = runner.invoke(app, arguments)
    again = runner.invoke(app, arguments)

    assert first.exit_code == 0, first.output
    assert "2 imported, 0 skipped" in first.stdout
    assert "0 imported, 2 skipped" in again.stdout

    async def read_lea(database: Database) -> dict[str, object]:
        async with database.session() as db:
            row = await persona_store.get_persona(db, ref="lea-martin")
        assert row is not None
        return dict(row.sheet)

    lea = on_database(f"sqlite+aiosqlite:///{workdir / 'data' / SQLITE_FILE_NAME}", read_lea)
    assert lea["name"] == "Léa Martin"
    assert lea["interests"] == ["peinture", "histoire"]
    assert lea["appearance"] == {
        "gender": "female",
        "eye_color": "green",
        "hair_color": "brown",
        "hair_type": "curly",
    }


def test_an_unparsable_database_url_stops_with_one_line_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("DATABASE_URL", "LLM_BASE_URL", "VLLM_API_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DATABASE_URL", "not a database url")
    result = runner.invoke(app, ["db", "upgrade"])
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "DATABASE_URL" in lines[0]


def test_keys_list_revoke_and_rotate(workdir: Path) -> None:
    first = runner.invoke(app, ["keys", "create", "--name", "alpha", "--owner", "team-a"])
    admin = runner.invoke(app, ["keys", "create", "--name", "boss", "--scope", "admin"])
    assert first.exit_code == admin.exit_code == 0
    prefix = first.stdout.strip()[:11]

    listed = runner.invoke(app, ["keys", "list"])
    assert listed.exit_code == 0
    [alpha_line] = [line for line in listed.stdout.splitlines() if " alpha " in line]
    assert prefix in alpha_line
    assert "owner=team-a" in alpha_line
    assert "active" in alpha_line

    rotated = runner.invoke(app, ["keys", "rotate", prefix])
    assert rotated.exit_code == 0, rotated.output
    new_secret = rotated.stdout.strip()
    assert new_secret.startswith("tt_")
    assert new_secret != first.stdout.strip()

    revoked = runner.invoke(app, ["keys", "revoke", new_secret[:11]])
    assert revoked.exit_code == 0
    assert "revoked" in revoked.stdout

    missing = runner.invoke(app, ["keys", "revoke", "tt_nothing"])
    assert missing.exit_code == 1
    assert "error: no key 'tt_nothing'" in missing.stderr


def test_keys_carry_limits_and_allow_lists_from_create_to_set(workdir: Path) -> None:
    created = runner.invoke(
        app,
        [
            "keys", "create", "--name", "shop", "--requests-per-minute", "60",
            "--tokens-per-minute", "9000", "--allow-persona", "tutor",
            "--allow-persona", " seline ", "--allow-persona", "tutor",
        ],
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    secret = created.stdout.strip()
    url = f"sqlite+aiosqlite:///{workdir / 'data' / SQLITE_FILE_NAME}"
    policy = _authenticate(url, secret).policy
    assert (policy.requests_per_minute, policy.tokens_per_minute) == (60, 9000)
    assert policy.concurrent_streams is None
    assert policy.allowed_personas == ("seline", "tutor")
    assert policy.allowed_models is None

    changed = runner.invoke(
        app,
        ["keys", "set", secret[:11], "--concurrent-streams", "2", "--reset", "tokens_per_minute"],
    )
    assert changed.exit_code == 0, changed.output
    assert "rpm=60" in changed.stdout
    assert "streams=2" in changed.stdout
    assert "tpm=" not in changed.stdout
    policy = _authenticate(url, secret).policy
    assert (policy.requests_per_minute, policy.tokens_per_minute) == (60, None)
    assert policy.concurrent_streams == 2
    assert policy.allowed_personas == ("seline", "tutor")


def test_keys_set_refuses_an_unknown_reset_and_changes_nothing(workdir: Path) -> None:
    secret = runner.invoke(
        app, ["keys", "create", "--name", "n", "--requests-per-minute", "5"]
    ).stdout.strip()
    refused = runner.invoke(
        app, ["keys", "set", secret[:11], "--name", "other", "--reset", "everything"]
    )
    assert refused.exit_code == 2
    assert "--reset takes one of" in refused.stderr
    url = f"sqlite+aiosqlite:///{workdir / 'data' / SQLITE_FILE_NAME}"
    principal = _authenticate(url, secret)
    assert (principal.name, principal.policy.requests_per_minute) == ("n", 5)
    missing = runner.invoke(app, ["keys", "set", "tt_nothing", "--name", "x"])
    assert missing.exit_code == 1
    assert "no key 'tt_nothing'" in missing.stderr


def test_keys_usage_of_a_fresh_key_reports_zero(workdir: Path) -> None:
    secret = runner.invoke(app, ["keys", "create", "--name", "quiet"]).stdout.strip()
    report = runner.invoke(app, ["keys", "usage", secret[:11], "--days", "7"])
    assert report.exit_code == 0, report.output
    [totals] = report.stdout.splitlines()
    assert totals.startswith("since ")
    assert "requests=0" in totals
    assert "total=0" in totals


def test_keys_usage_prints_one_line_per_day_persona_and_model(workdir: Path) -> None:
    secret = runner.invoke(app, ["keys", "create", "--name", "busy"]).stdout.strip()
    url = f"sqlite+aiosqlite:///{workdir / 'data' / SQLITE_FILE_NAME}"
    key_id = _authenticate(url, secret).key_id

    async def spend(database: Database) -> None:
        async with database.session() as db, db.begin():
            for persona, prompt in (("tutor", 10), ("tutor", 5), ("", 7)):
                await usage_store.add_usage(
                    db,
                    key_id=key_id,
                    day=utcnow().date(),
                    persona=persona,
                    model="sim",
                    prompt_tokens=prompt,
                    completion_tokens=3,
                )

    on_database(url, spend)
    report = runner.invoke(app, ["keys", "usage", secret[:11]])
    assert report.exit_code == 0, report.output
    lines = report.stdout.splitlines()
    assert len(lines) == 3
    assert "  -  sim  requests=1  prompt=7  completion=3" in lines[0]
    assert "  tutor  sim  requests=2  prompt=15  completion=6" in lines[1]
    assert lines[2].endswith("requests=3  prompt=22  completion=9  total=31")
