"""Log lines: JSON objects (one per line, for Loki, Elasticsearch or any collector) or
plain text for a terminal. Each line of a request carries its request id.

Message contents and keys are never logged: the gateway's log calls pass neither, and
the access line names the route, never the body or the query string."""

from __future__ import annotations

import copy
import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

from uvicorn.config import LOGGING_CONFIG

from thinkingthoughts.observability.request_ids import current_request_id
from thinkingthoughts.settings import LogFormat

ACCESS_LOGGER = "thinkingthoughts.access"
ACCESS_FIELDS = ("method", "path", "route", "status", "duration_ms")
"""What an access line says besides its message, as JSON fields (`extra=` of the call)."""


class JsonFormatter(logging.Formatter):
    """`{"time", "level", "logger", "message", "request_id"?, access fields?, "exception"?}`"""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = current_request_id.get()
        if request_id is not None:
            entry["request_id"] = request_id
        for field in ACCESS_FIELDS:
            if field in record.__dict__:
                entry[field] = record.__dict__[field]
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def uses_json(log_format: LogFormat, *, terminal: bool) -> bool:
    """`auto`: JSON unless a person is reading the terminal."""
    return log_format == "json" or (log_format == "auto" and not terminal)


def gateway_log_config(level: str, log_format: LogFormat = "text") -> dict[str, Any]:
    """Uvicorn's logging, with the gateway's own loggers at the configured level and,
    for JSON, every handler writing JSON lines."""
    config = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"]["thinkingthoughts"] = {
        "handlers": ["default"],
        "level": level.upper(),
        "propagate": False,
    }
    if uses_json(log_format, terminal=sys.stderr.isatty()):
        json_formatter = {"()": f"{__name__}.JsonFormatter"}
        config["formatters"] = {"default": json_formatter, "access": json_formatter}
    return config
