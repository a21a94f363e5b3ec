from __future__ import annotations

from pathlib import Path

import pytest

from thinkingthoughts.ui.config import UiConfigError, UiSettings, load_settings

VARIABLES = (
    "STREAMLIT_BACKEND_API_URL",
    "TT_API_KEY",
    "TT_DATA_DIR",
    "STREAMLIT_AUTH_REQUIRED",
    "TT_UI_LANG",
)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # ./data of the defaults is an empty folder of the test


def test_defaults() -> None:
    settings = load_settings()
    assert settings.backend_api_url == "http://127.0.0.1:8001"
    assert settings.api_key is None
    assert settings.data_dir == Path("./data")
    assert settings.auth_required is False
    assert settings.language == "en"


def test_every_variable_is_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("STREAMLIT_BACKEND_API_URL", "http://gateway:9000")
    monkeypatch.setenv("TT_API_KEY", "tt_secret")
    monkeypatch.setenv("TT_DATA_DIR", str(tmp_path / "elsewhere"))
    monkeypatch.setenv("STREAMLIT_AUTH_REQUIRED", "true")
    monkeypatch.setenv("TT_UI_LANG", "fr")
    settings = load_settings()
    assert settings.backend_api_url == "http://gateway:9000"
    assert settings.api_key == "tt_secret"
    assert settings.data_dir == tmp_path / "elsewhere"
    assert settings.auth_required is True
    assert settings.language == "fr"


@pytest.mark.parametrize(("raw", "expected"), [("1", True), ("yes", True), ("false", False)])
def test_auth_required_takes_the_usual_booleans(
    monkeypatch: pytest.MonkeyPatch, raw: str, expected: bool
) -> None:
    monkeypatch.setenv("STREAMLIT_AUTH_REQUIRED", raw)
    assert load_settings().auth_required is expected


def test_the_language_is_read_in_any_case(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TT_UI_LANG", " FR ")
    assert load_settings().language == "fr"


def test_an_unknown_language_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TT_UI_LANG", "de")
    with pytest.raises(UiConfigError) as caught:
        load_settings()
    assert str(caught.value) == "TT_UI_LANG must be 'en' or 'fr', not 'de'"


def test_an_invalid_boolean_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STREAMLIT_AUTH_REQUIRED", "maybe")
    with pytest.raises(UiConfigError, match="STREAMLIT_AUTH_REQUIRED must be true or false"):
        load_settings()


def test_empty_variables_take_the_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TT_UI_LANG", "")
    monkeypatch.setenv("TT_API_KEY", "")
    settings = load_settings()
    assert settings.language == "en"
    assert settings.api_key is None


def test_the_configured_key_wins_over_the_admin_key_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "admin.key").write_text("tt_from_file\n")
    monkeypatch.setenv("TT_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("TT_API_KEY", "tt_from_env")
    assert load_settings().configured_key() == "tt_from_env"


def test_without_a_configured_key_the_admin_key_file_is_used(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "admin.key").write_text("  tt_from_file\n")
    monkeypatch.setenv("TT_DATA_DIR", str(tmp_path))
    settings = load_settings()
    assert settings.admin_key_file == tmp_path / "admin.key"
    assert settings.configured_key() == "tt_from_file"


def test_without_key_or_file_there_is_no_key() -> None:
    assert load_settings().configured_key() is None


def test_no_env_file_is_read(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("TT_UI_LANG=fr\nTT_API_KEY=tt_dotenv\n")
    settings = UiSettings()
    assert settings.language == "en"
    assert settings.api_key is None
