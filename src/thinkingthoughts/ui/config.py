"""The page's settings, read from the environment, and the API key it starts with."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ADMIN_KEY_FILE_NAME = "admin.key"

Language = Literal["en", "fr"]


class UiConfigError(Exception):
    """A setting has a value the page cannot use; the message names the variable."""


class UiSettings(BaseSettings):
    """Where the gateway is, which key to use, whether to ask for one, which language."""

    model_config = SettingsConfigDict(
        env_file=None,
        env_ignore_empty=True,
        extra="ignore",
        populate_by_name=True,
        case_sensitive=False,
    )

    backend_api_url: str = Field(
        default="http://127.0.0.1:8001", validation_alias="STREAMLIT_BACKEND_API_URL"
    )
    api_key: str | None = Field(default=None, validation_alias="TT_API_KEY")
    data_dir: Path = Field(default=Path("./data"), validation_alias="TT_DATA_DIR")
    auth_required: bool = Field(default=False, validation_alias="STREAMLIT_AUTH_REQUIRED")
    language: Language = Field(default="en", validation_alias="TT_UI_LANG")

    @field_validator("language", mode="before")
    @classmethod
    def _language_in_any_case(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @property
    def admin_key_file(self) -> Path:
        return self.data_dir / ADMIN_KEY_FILE_NAME

    def configured_key(self) -> str | None:
        """TT_API_KEY, else the admin key the gateway's first start saved; None if neither."""
        if self.api_key and self.api_key.strip():
            return self.api_key.strip()
        try:
            saved = self.admin_key_file.read_text(encoding="utf-8").strip()
        except OSError:
            return None
        return saved or None


_EXPECTED = {
    "STREAMLIT_AUTH_REQUIRED": "true or false",
    "TT_UI_LANG": "'en' or 'fr'",
}


def load_settings() -> UiSettings:
    """The settings from the environment; an invalid value raises UiConfigError."""
    try:
        return UiSettings()
    except ValidationError as exc:
        raise UiConfigError(describe_invalid_settings(exc)) from None


def describe_invalid_settings(exc: ValidationError) -> str:
    """One line per invalid variable: its name, the value given and what is expected."""
    lines = []
    for error in exc.errors():
        name = str(error["loc"][0]) if error["loc"] else "a setting"
        expected = _EXPECTED.get(name)
        if expected is None:
            message = str(error["msg"])
            expected = "valid (" + message[:1].lower() + message[1:] + ")"
        lines.append(f"{name} must be {expected}, not {error.get('input')!r}")
    return "; ".join(lines)
