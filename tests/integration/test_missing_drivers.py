"""A driver the settings need but that will not import stops the start in one line, before
anything is created. Real processes; the import is made to fail by a package of the same
name placed first on PYTHONPATH (as a missing or broken install fails it)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

CLEARED_VARIABLES = ("LLM_BASE_URL", "VLLM_API_BASE_URL", "DATABASE_URL", "REDIS_URL")


def _without(tmp_path: Path, *modules: str) -> str:
    shadow = tmp_path / "shadow"
    for module in modules:
        package = shadow / module
        package.mkdir(parents=True)
        (package / "__init__.py").write_text(f'raise ImportError("No module named {module!r}")\n')
    return str(shadow)


def _run(
    tmp_path: Path, arguments: list[str], variables: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k not in CLEARED_VARIABLES}
    environment |= {"TT_DATA_DIR": str(tmp_path / "data"), **variables}
    return subprocess.run(
        [sys.executable, "-m", "thinkingthoughts", *arguments],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("command", [["up", "--no-ui"], ["serve"], ["db", "upgrade"]])
def test_a_missing_postgresql_driver_stops_the_start_naming_the_extra_before_anything_is_made(
    tmp_path: Path, command: list[str]
) -> None:
    finished = _run(
        tmp_path,
        command,
        {
            "PYTHONPATH": _without(tmp_path, "asyncpg", "redis"),
            "DATABASE_URL": "postgresql://postgres@127.0.0.1:1/none",
            "REDIS_URL": "redis://127.0.0.1:1/0",
            "LLM_BASE_URL": "http://127.0.0.1:1/v1",
        },
    )

    assert finished.returncode == 2
    assert "pip install 'thinkingthoughts[postgres,redis]'" in finished.stderr
    assert "Traceback" not in finished.stderr
    assert finished.stdout == ""  # no banner, no key
    assert not (tmp_path / "data").exists()


def test_extras_lists_what_the_settings_need_and_what_is_missing(tmp_path: Path) -> None:
    variables = {
        "PYTHONPATH": _without(tmp_path, "asyncpg"),
        "DATABASE_URL": "postgresql://postgres@127.0.0.1:1/none",
        "REDIS_URL": "redis://127.0.0.1:1/0",
    }

    needed = _run(tmp_path, ["extras"], variables)
    missing = _run(tmp_path, ["extras", "--missing", "--no-ui"], variables)

    assert needed.stdout == "ui,postgres,redis\n"
    assert missing.stdout == "postgres\n"
