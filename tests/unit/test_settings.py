from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from thinkingthoughts.settings import Settings, describe_settings_error


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in (
        "LLM_BASE_URL",
        "VLLM_API_BASE_URL",
        "LLM_MODEL",
        "VLLM_MODEL_NAME",
        "DATABASE_URL",
        "MAX_TOKENS",
        "TT_DATA_DIR",
        "TT_LOG_LEVEL",
        "REDIS_URL",
        "TT_API_DOCS",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env is read


def test_defaults_run_on_the_embedded_database(tmp_path: Path) -> None:
    settings = Settings()
    assert settings.llm_base_url is None
    assert settings.resolved_database_url == "sqlite+aiosqlite:///data/thinkingthoughts.db"
    assert settings.port == 8001


def test_original_prototype_names_are_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VLLM_API_BASE_URL", "http://vllm:8000/v1/")
    monkeypatch.setenv("VLLM_MODEL_NAME", "mistral")
    settings = Settings()
    assert settings.llm_base_url == "http://vllm:8000/v1"
    assert settings.llm_model == "mistral"


def test_new_names_win_over_nothing_and_env_file_is_read(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("LLM_BASE_URL=http://from-env-file/v1\nMAX_TOKENS=64\n")
    settings = Settings()
    assert settings.llm_base_url == "http://from-env-file/v1"
    assert settings.max_tokens == 64


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("MAX_TOKENS", "lots"),
        ("MAX_TOKENS", "0"),
        ("LLM_BASE_URL", "vllm:8000"),
        ("TT_LOG_LEVEL", "loud"),
        ("DATABASE_URL", "not a database url"),
        ("DATABASE_URL", "mysql://app@db/app"),
        ("REDIS_URL", "localhost:6379"),
        ("TT_API_DOCS", "maybe"),
    ],
)
def test_an_invalid_setting_is_described_in_one_line_naming_it(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValidationError) as caught:
        Settings()
    message = describe_settings_error(caught.value)
    assert "\n" not in message
    assert message.startswith(f"invalid setting {variable}:")
    assert "Value error" not in message


def test_explicit_database_url_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://app@db/app")
    assert Settings().resolved_database_url == "postgresql://app@db/app"
