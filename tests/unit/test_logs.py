"""Request ids and log lines: what is accepted, what a JSON line holds."""

from __future__ import annotations

import json
import logging
import sys

import pytest

from thinkingthoughts.observability.logs import JsonFormatter, gateway_log_config, uses_json
from thinkingthoughts.observability.request_ids import (
    MAX_REQUEST_ID_LENGTH,
    accepted_request_id,
    current_request_id,
)
from thinkingthoughts.observability.tracing import traces_endpoint
from thinkingthoughts.settings import Settings


@pytest.mark.parametrize(
    "given",
    ["abc-123", "0f8fad5b-d9cb-469f-a165-70867728950e", "trace:span/1+2=3", "a" * 128],
)
def test_a_plain_token_is_kept(given: str) -> None:
    assert accepted_request_id(given) == given


@pytest.mark.parametrize(
    "given",
    [None, "", "two words", 'quote"d', "line\nbreak", "-leading-dash", "a" * 129, "é"],
)
def test_anything_else_is_replaced_by_a_new_id(given: str | None) -> None:
    made = accepted_request_id(given)
    assert made != given
    assert len(made) == 32
    assert int(made, 16) >= 0
    assert accepted_request_id(given) != made  # random, not derived from the input
    assert MAX_REQUEST_ID_LENGTH == 128


def _record(message: str, *args: object, **extra: object) -> logging.LogRecord:
    record = logging.LogRecord(
        "thinkingthoughts.x", logging.WARNING, __file__, 1, message, args, None
    )
    record.__dict__.update(extra)
    return record


def test_a_json_line_holds_the_message_and_the_request_id() -> None:
    token = current_request_id.set("req-42")
    try:
        line = JsonFormatter().format(_record("upstream %s failed", "vllm"))
    finally:
        current_request_id.reset(token)

    entry = json.loads(line)
    assert entry["message"] == "upstream vllm failed"
    assert entry["level"] == "warning"
    assert entry["logger"] == "thinkingthoughts.x"
    assert entry["request_id"] == "req-42"
    assert entry["time"].endswith("+00:00")


def test_a_json_access_line_has_its_fields_and_no_request_id_outside_a_request() -> None:
    record = _record("GET /health 200", method="GET", route="/health", status=200, duration_ms=1.5)

    entry = json.loads(JsonFormatter().format(record))

    assert (entry["method"], entry["route"], entry["status"], entry["duration_ms"]) == (
        "GET",
        "/health",
        200,
        1.5,
    )
    assert "request_id" not in entry


def test_a_json_line_carries_the_exception() -> None:
    try:
        raise ValueError("broken")
    except ValueError:
        record = logging.LogRecord(
            "thinkingthoughts", logging.ERROR, __file__, 1, "failed", (), sys.exc_info()
        )
    entry = json.loads(JsonFormatter().format(record))
    assert "ValueError: broken" in entry["exception"]


@pytest.mark.parametrize(
    ("log_format", "terminal", "expected"),
    [
        ("json", True, True),
        ("json", False, True),
        ("text", False, False),
        ("auto", True, False),
        ("auto", False, True),
    ],
)
def test_auto_means_json_unless_on_a_terminal(
    log_format: str, terminal: bool, expected: bool
) -> None:
    assert uses_json(log_format, terminal=terminal) is expected  # type: ignore[arg-type]


def test_the_json_config_formats_every_handler_as_json() -> None:
    config = gateway_log_config("debug", "json")
    formatters = {f["()"] for f in config["formatters"].values()}
    assert formatters == {"thinkingthoughts.observability.logs.JsonFormatter"}
    assert config["loggers"]["thinkingthoughts"]["level"] == "DEBUG"
    text = gateway_log_config("info", "text")
    assert all("()" not in f or "Json" not in f["()"] for f in text["formatters"].values())


@pytest.mark.parametrize(
    ("variables", "endpoint"),
    [
        ({}, None),
        (
            {"otel_exporter_otlp_endpoint": "http://collector:4318/"},
            "http://collector:4318/v1/traces",
        ),
        (
            {
                "otel_exporter_otlp_endpoint": "http://collector:4318",
                "otel_exporter_otlp_traces_endpoint": "http://traces:4318/custom",
            },
            "http://traces:4318/custom",
        ),
    ],
)
def test_the_traces_endpoint_follows_the_specification(
    variables: dict[str, str], endpoint: str | None
) -> None:
    assert traces_endpoint(Settings(_env_file=None, **variables)) == endpoint  # type: ignore[arg-type]
