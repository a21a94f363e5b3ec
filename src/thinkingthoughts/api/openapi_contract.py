"""The published contract: `/openapi.json` documents every answer a route really gives.

The key is published as two security schemes by `api.deps` (`x-api-key` or a bearer
token, either one).

FastAPI documents a route's success answer and 422 on its own. The gateway answers more:
every key-checked route may refuse the key (401), its scope (403), its limits (429) or be
unable to serve (503: the database or the rate limiter unreachable); a route with a body
may find it too large (413) or too slow to arrive (408); a route naming a resource in its
path may not find it (404). Those follow from what each operation of the document requires
(a key, a body, parameters), so they are derived here rather than repeated on each route;
what only a route knows (a slug clash, an upstream failure) is in `ROUTE_STATUSES`.

Every error answer uses the one error schema: the native shape on `/api`, OpenAI's on
`/v1`, where an invalid request is a 400 as OpenAI answers it (never 422).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

from thinkingthoughts.api.errors import OPENAI_PATH_PREFIX
from thinkingthoughts.value_rules import document_value_rules

NATIVE_ERROR_SCHEMA = "Error"
OPENAI_ERROR_SCHEMA = "OpenAIError"

STATUS_DESCRIPTIONS = {
    400: "Invalid request",
    401: "Missing or unknown API key",
    403: "The key lacks the scope, or the persona or model is outside its allow-list",
    404: "Not found (or another owner's)",
    408: "The request body did not arrive in time",
    409: "Conflict with what is stored",
    413: "Request body or message too large",
    422: "Invalid request",
    429: "Over a limit; Retry-After says when to try again",
    502: "The inference server failed",
    503: "The database, the rate limiter or the inference server is unavailable",
    504: "The inference server did not answer in time",
}

UPSTREAM_STATUSES = frozenset({502, 503, 504})

ROUTE_STATUSES: dict[tuple[str, str], frozenset[int]] = {
    ("POST", "/api/chat"): frozenset({400, 404, 413}) | UPSTREAM_STATUSES,
    ("POST", "/v1/chat/completions"): frozenset({404}) | UPSTREAM_STATUSES,
    ("POST", "/v1/completions"): frozenset({404}) | UPSTREAM_STATUSES,
    ("POST", "/v1/responses"): frozenset({404}) | UPSTREAM_STATUSES,
    ("POST", "/v1/embeddings"): frozenset({404}) | UPSTREAM_STATUSES,
    ("GET", "/v1/models"): UPSTREAM_STATUSES,
    ("GET", "/v1/models/{model_id}"): UPSTREAM_STATUSES,
    ("GET", "/health/ready"): frozenset({503}),
    ("POST", "/api/personas"): frozenset({409}),
    ("PUT", "/api/personas/{ref}"): frozenset({409}),
    ("PATCH", "/api/personas/{ref}"): frozenset({409}),
    ("PATCH", "/api/keys/{ref}"): frozenset({409}),
    ("DELETE", "/api/keys/{ref}"): frozenset({409}),
    ("POST", "/api/keys/{ref}/rotate"): frozenset({409}),
    ("GET", "/api/keys/{ref}/usage"): frozenset({409}),
    ("POST", "/api/sessions/{session_id}/messages/{message_id}/select"): frozenset({404}),
    ("POST", "/api/sessions/{session_id}/fork"): frozenset({404}),
}
"""What only the route knows: its conflicts and the upstream's failures."""

EVENT_STREAM = "text/event-stream"
STREAMED_ROUTES = frozenset(
    {
        ("POST", "/api/chat"),
        ("POST", "/v1/chat/completions"),
        ("POST", "/v1/completions"),
        ("POST", "/v1/responses"),
    }
)
"""Routes that answer `"stream": true` with Server-Sent Events instead of JSON."""
SERVER_SENT_EVENT = {
    "type": "object",
    "properties": {
        "event": {"type": "string"},
        "data": {"type": "string"},
        "id": {"type": "string"},
        "retry": {"type": "integer", "minimum": 0},
    },
    "required": ["data"],
}
"""One event of a stream (`itemSchema`: the stream is a sequence of these)."""

EXTRA_MEDIA_TYPES: dict[tuple[str, str], tuple[str, ...]] = {
    ("GET", "/api/sessions/{session_id}/export"): ("text/markdown",),
    ("GET", "/metrics"): ("text/plain",),
}


class _NativeErrorDetail(BaseModel):
    type: str
    message: str
    code: str


class Error(BaseModel):
    """The native API's one error shape."""

    error: _NativeErrorDetail


class _OpenAIErrorDetail(BaseModel):
    message: str
    type: str
    param: str | None
    code: str | None


class OpenAIError(BaseModel):
    """OpenAI's error shape, on every `/v1` route."""

    error: _OpenAIErrorDetail


def install_openapi_contract(app: FastAPI) -> None:
    """Make `app.openapi()` publish the whole contract (built once, on first request)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title, version=app.version, summary=app.summary, routes=app.routes
            )
            app.openapi_schema = complete_contract(document)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def complete_contract(document: dict[str, Any]) -> dict[str, Any]:
    """The document with every operation's error answers and media types."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for model in (Error, OpenAIError):
        schemas.update(_component_schemas(model))
    for path, operations in document.get("paths", {}).items():
        for method, operation in operations.items():
            _complete_operation(operation, method.upper(), path)
    document_value_rules(schemas, document)
    return document


def operation_error_statuses(operation: dict[str, Any], method: str, path: str) -> frozenset[int]:
    """Every error status an operation may answer, from what it requires and takes."""
    openai = path.startswith(OPENAI_PATH_PREFIX)
    parameters = operation.get("parameters", [])
    statuses = set(ROUTE_STATUSES.get((method, path), frozenset()))
    if operation.get("security"):
        statuses |= {401, 403, 429, 503}
    if "requestBody" in operation:
        statuses |= {408, 413}
    if parameters or "requestBody" in operation:
        statuses.add(400 if openai else 422)
    if any(parameter["in"] == "path" for parameter in parameters):
        statuses.add(404)
    return frozenset(statuses)


def _complete_operation(operation: dict[str, Any], method: str, path: str) -> None:
    openai = path.startswith(OPENAI_PATH_PREFIX)
    error_ref = {
        "$ref": f"#/components/schemas/{OPENAI_ERROR_SCHEMA if openai else NATIVE_ERROR_SCHEMA}"
    }
    responses = operation.setdefault("responses", {})
    responses.pop("422", None)
    for status in sorted(operation_error_statuses(operation, method, path)):
        responses[str(status)] = {
            "description": STATUS_DESCRIPTIONS[status],
            "content": {"application/json": {"schema": error_ref}},
        }
    success = next((answer for code, answer in responses.items() if code.startswith("2")), None)
    if success is None:
        return
    content = success.setdefault("content", {})
    if (method, path) in STREAMED_ROUTES:
        content[EVENT_STREAM] = {"itemSchema": SERVER_SENT_EVENT}
    for media_type in EXTRA_MEDIA_TYPES.get((method, path), ()):
        content[media_type] = {"schema": {"type": "string"}}


def _component_schemas(model: type[BaseModel]) -> dict[str, Any]:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    definitions = schema.pop("$defs", {})
    return {model.__name__: schema, **definitions}
