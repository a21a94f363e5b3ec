"""The one typed settings object. Nothing else in the package reads the environment."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy import make_url
from sqlalchemy.exc import ArgumentError

SQLITE_FILE_NAME = "thinkingthoughts.db"
DATABASE_BACKENDS = ("sqlite", "postgresql")
REDIS_SCHEMES = ("redis://", "rediss://", "unix://")
ADMIN_KEY_FILE_NAME = "admin.key"


def _env(*names: str) -> AliasChoices:
    return AliasChoices(*names)


LogFormat = Literal["auto", "json", "text"]
PositiveFloat = Annotated[float, Field(gt=0)]
PositiveInt = Annotated[int, Field(gt=0)]


class Settings(BaseSettings):
    """Gateway settings, read from the environment and `.env` (see `.env.example`)."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        populate_by_name=True,
        case_sensitive=False,
    )

    llm_base_url: str | None = Field(
        default=None, validation_alias=_env("LLM_BASE_URL", "VLLM_API_BASE_URL")
    )
    llm_model: str | None = Field(
        default=None, validation_alias=_env("LLM_MODEL", "VLLM_MODEL_NAME")
    )
    llm_api_key: SecretStr | None = Field(default=None, validation_alias=_env("LLM_API_KEY"))
    llm_max_model_len: PositiveInt | None = Field(
        default=None, validation_alias=_env("LLM_MAX_MODEL_LEN")
    )
    llm_connect_timeout: PositiveFloat = Field(
        default=5.0, validation_alias=_env("LLM_CONNECT_TIMEOUT")
    )
    llm_first_token_timeout: PositiveFloat = Field(
        default=60.0, validation_alias=_env("LLM_FIRST_TOKEN_TIMEOUT")
    )
    llm_request_timeout: PositiveFloat = Field(
        default=600.0, validation_alias=_env("LLM_REQUEST_TIMEOUT")
    )
    llm_inter_token_timeout: PositiveFloat = Field(
        default=60.0, validation_alias=_env("LLM_INTER_TOKEN_TIMEOUT")
    )
    """Seconds a started stream may go without a token before it is cut as stalled."""
    max_tokens: PositiveInt = Field(default=512, validation_alias=_env("MAX_TOKENS"))

    database_url: str | None = Field(default=None, validation_alias=_env("DATABASE_URL"))
    database_connect_timeout: PositiveFloat = Field(
        default=5.0, validation_alias=_env("DATABASE_CONNECT_TIMEOUT")
    )
    """Seconds to open a database connection, or to wait for a free one in the pool."""
    database_statement_timeout: PositiveFloat = Field(
        default=10.0, validation_alias=_env("DATABASE_STATEMENT_TIMEOUT")
    )
    """Seconds one statement may take (SQLite: may wait for the file's lock)."""
    redis_url: str | None = Field(default=None, validation_alias=_env("REDIS_URL"))
    data_dir: Path = Field(default=Path("./data"), validation_alias=_env("TT_DATA_DIR"))

    host: str = Field(default="127.0.0.1", validation_alias=_env("TT_HOST"))
    port: int = Field(default=8001, ge=1, le=65535, validation_alias=_env("TT_PORT"))
    ui_port: int = Field(default=8501, ge=1, le=65535, validation_alias=_env("TT_UI_PORT"))
    ui_backend_api_url: str | None = Field(
        default=None, validation_alias=_env("STREAMLIT_BACKEND_API_URL")
    )
    """The gateway `thinkingthoughts ui` points the page at (default: this one's port)."""
    simulator_port: int = Field(
        default=8000, ge=1, le=65535, validation_alias=_env("TT_SIMULATOR_PORT")
    )

    default_persona: str = Field(default="seline", validation_alias=_env("TT_DEFAULT_PERSONA"))
    policy_file: Path | None = Field(default=None, validation_alias=_env("TT_POLICY_FILE"))
    traits_file: Path | None = Field(default=None, validation_alias=_env("TT_TRAITS_FILE"))

    max_message_chars: PositiveInt = Field(
        default=32_000, validation_alias=_env("TT_MAX_MESSAGE_CHARS")
    )
    max_messages_per_request: PositiveInt = Field(
        default=500, validation_alias=_env("TT_MAX_MESSAGES_PER_REQUEST")
    )
    max_request_bytes: PositiveInt = Field(
        default=1_048_576, validation_alias=_env("TT_MAX_REQUEST_BYTES")
    )
    header_timeout: PositiveFloat = Field(default=10.0, validation_alias=_env("TT_HEADER_TIMEOUT"))
    """Seconds a client may take to send a request's headers (from the connection, or
    from the request's first byte on a kept-alive one); then the connection is closed."""
    body_timeout: PositiveFloat = Field(default=30.0, validation_alias=_env("TT_BODY_TIMEOUT"))
    """Seconds a client may take to send a request's body once its headers are in; then 408."""
    sse_keepalive_seconds: PositiveFloat = Field(
        default=5.0, validation_alias=_env("TT_SSE_KEEPALIVE_SECONDS")
    )
    log_level: str = Field(default="info", validation_alias=_env("TT_LOG_LEVEL"))
    log_format: LogFormat = Field(default="auto", validation_alias=_env("TT_LOG_FORMAT"))
    """json (one object per line), text, or auto: text in a terminal, JSON elsewhere."""
    otel_exporter_otlp_endpoint: str | None = Field(
        default=None, validation_alias=_env("OTEL_EXPORTER_OTLP_ENDPOINT")
    )
    otel_exporter_otlp_traces_endpoint: str | None = Field(
        default=None, validation_alias=_env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    )
    otel_sdk_disabled: bool = Field(default=False, validation_alias=_env("OTEL_SDK_DISABLED"))
    otel_traces_exporter: str = Field(default="otlp", validation_alias=_env("OTEL_TRACES_EXPORTER"))
    """Traces go to the OTLP endpoint when one is set (with the `otel` extra); the exporter
    reads the other OTEL_* variables itself."""
    metrics_dir: Path | None = Field(
        default=None, validation_alias=_env("PROMETHEUS_MULTIPROC_DIR")
    )
    """Where the workers of `serve --workers N` share their metrics (prometheus_client's
    multiprocess mode); a temporary directory when not given."""
    api_docs: bool = Field(default=False, validation_alias=_env("TT_API_DOCS"))
    key_cache_seconds: float = Field(
        default=2.0, ge=0, le=5, validation_alias=_env("TT_KEY_CACHE_SECONDS")
    )
    """How long a replica trusts a key it has read; revocations reach it within this."""
    persona_cache_seconds: float = Field(
        default=2.0, ge=0, le=60, validation_alias=_env("TT_PERSONA_CACHE_SECONDS")
    )
    """How long a replica reuses a persona it has read; edits made elsewhere wait this long."""
    usage_flush_seconds: float = Field(
        default=1.0, ge=0, le=60, validation_alias=_env("TT_USAGE_FLUSH_SECONDS")
    )
    """How often counted usage is written (0: as each turn ends)."""
    key_requests_per_minute: int = Field(
        default=0, ge=0, validation_alias=_env("TT_KEY_REQUESTS_PER_MINUTE")
    )
    key_tokens_per_minute: int = Field(
        default=0, ge=0, validation_alias=_env("TT_KEY_TOKENS_PER_MINUTE")
    )
    key_concurrent_streams: int = Field(
        default=0, ge=0, validation_alias=_env("TT_KEY_CONCURRENT_STREAMS")
    )
    auth_failures_per_minute: int = Field(
        default=30, ge=0, validation_alias=_env("TT_AUTH_FAILURES_PER_MINUTE")
    )
    rate_limit_fail_open: bool = Field(
        default=True, validation_alias=_env("TT_RATE_LIMIT_FAIL_OPEN")
    )
    rate_limit_retry_seconds: PositiveFloat = Field(
        default=5.0, validation_alias=_env("TT_RATE_LIMIT_RETRY_SECONDS")
    )
    """After a Redis failure the limiter leaves Redis alone this long (each limit fails
    open or closed at once), then probes it in the background."""
    redis_timeout: PositiveFloat = Field(default=0.1, validation_alias=_env("TT_REDIS_TIMEOUT"))
    """Seconds a Redis command may take; a command that times out is not retried."""
    redis_connect_timeout: PositiveFloat = Field(
        default=0.5, validation_alias=_env("TT_REDIS_CONNECT_TIMEOUT")
    )
    stream_lease_seconds: PositiveFloat = Field(
        default=30.0, validation_alias=_env("TT_STREAM_LEASE_SECONDS")
    )
    """A concurrent-stream slot's lease, renewed every third of it while the reply runs:
    a crashed replica's slots are free again within this."""
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list, validation_alias=_env("TT_CORS_ORIGINS")
    )
    openai_session_from_user: bool = Field(
        default=False, validation_alias=_env("TT_OPENAI_SESSION_FROM_USER")
    )

    @field_validator("llm_base_url")
    @classmethod
    def _strip_trailing_slash(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        try:
            backend = make_url(value.strip()).get_backend_name()
        except ArgumentError as exc:
            raise ValueError("is not a database URL, e.g. postgresql://user@host/db") from exc
        if backend not in DATABASE_BACKENDS:
            raise ValueError(f"must be a {' or '.join(DATABASE_BACKENDS)} URL, not {backend}")
        return value.strip()

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        if not value.startswith(REDIS_SCHEMES):
            raise ValueError("must start with redis://, rediss:// or unix://")
        return value.strip()

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return [origin.strip().rstrip("/") for origin in value.split(",") if origin.strip()]
        return value

    @field_validator("cors_origins")
    @classmethod
    def _origins(cls, value: list[str]) -> list[str]:
        for origin in value:
            if origin != "*" and not origin.startswith(("http://", "https://")):
                raise ValueError(f"'{origin}' is not an origin like https://app.example.com")
        return value

    @field_validator("log_level")
    @classmethod
    def _known_log_level(cls, value: str) -> str:
        levels = {"critical", "error", "warning", "info", "debug"}
        if value.lower() not in levels:
            raise ValueError(f"must be one of {', '.join(sorted(levels))}")
        return value.lower()

    @property
    def resolved_database_url(self) -> str:
        """DATABASE_URL, or the SQLite file under the data dir; storage picks the driver."""
        if not self.database_url:
            return f"sqlite+aiosqlite:///{self.data_dir / SQLITE_FILE_NAME}"
        return self.database_url

    @property
    def admin_key_file(self) -> Path:
        return self.data_dir / ADMIN_KEY_FILE_NAME


def describe_settings_error(error: ValidationError) -> str:
    """One readable line naming each variable that is wrong."""
    parts = []
    for item in error.errors():
        field = str(item["loc"][0]) if item["loc"] else "?"
        variable = _variable_name(field)
        parts.append(f"{variable}: {str(item['msg']).removeprefix('Value error, ')}")
    return "invalid setting " + "; ".join(parts)


def _variable_name(field: str) -> str:
    info = Settings.model_fields.get(field)
    if info is not None and isinstance(info.validation_alias, AliasChoices):
        first = info.validation_alias.choices[0]
        return str(first)
    return field.upper()
