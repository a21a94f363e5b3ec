"""Error bodies, registered in one place, in the two shapes clients expect.

Native routes: `{"error": {"type", "message", "code"}}`. OpenAI-compatible routes
(`/v1/...`): OpenAI's `{"error": {"message", "type", "param", "code"}}`, with 400 where
OpenAI answers 400 (invalid fields, a conversation too long for the model), so that the
OpenAI SDKs raise their usual exception classes.
"""

from __future__ import annotations

import functools
import logging
import math
import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from thinkingthoughts.api.responses import FastJSONResponse
from thinkingthoughts.errors import (
    ContextOverflowError,
    GatewayError,
    InvalidRequestError,
    RateLimitedError,
)
from thinkingthoughts.observability.request_ids import request_id_header
from thinkingthoughts.openai_api.errors import openai_error_type, validation_code

logger = logging.getLogger(__name__)

OPENAI_PATH_PREFIX = "/v1/"
BODY_NOT_JSON = "the request body is not valid JSON"

_HTTP_ERROR_TYPES = {
    400: ("invalid_request_error", "invalid_request"),
    401: ("authentication_error", "invalid_api_key"),
    403: ("permission_error", "permission_denied"),
    404: ("not_found_error", "not_found"),
    405: ("invalid_request_error", "method_not_allowed"),
    408: ("invalid_request_error", "request_timeout"),
    413: ("invalid_request_error", "payload_too_large"),
}


def error_body(
    error_type: str, message: str, code: str, *, openai: bool = False, param: str | None = None
) -> dict[str, Any]:
    if openai:
        return {"error": {"message": message, "type": error_type, "param": param, "code": code}}
    return {"error": {"type": error_type, "message": message, "code": code}}


def gateway_error_body(exc: GatewayError, *, openai: bool = False) -> dict[str, Any]:
    if openai:
        error_type = openai_error_type(exc.error_type)
        return error_body(error_type, exc.message, exc.code, openai=True, param=exc.param)
    return error_body(exc.error_type, exc.message, exc.code)


def status_for(exc: GatewayError, *, openai: bool) -> int:
    if openai and isinstance(exc, InvalidRequestError | ContextOverflowError):
        return 400
    return exc.status_code


def error_response(exc: GatewayError, *, openai: bool = False) -> FastJSONResponse:
    headers = {}
    if isinstance(exc, RateLimitedError):
        headers = {**exc.headers, "Retry-After": str(max(1, math.ceil(exc.retry_after)))}
    return FastJSONResponse(
        gateway_error_body(exc, openai=openai),
        status_code=status_for(exc, openai=openai),
        headers=headers,
    )


def allowed_methods(request: Request) -> list[str]:
    """The methods of the first route template matching this path, as `/openapi.json`
    publishes them (Starlette's own `Allow` names only the first route's method)."""
    for template, operations in request.app.openapi().get("paths", {}).items():
        if _template_pattern(template).fullmatch(request.url.path):
            return [method.upper() for method in operations]
    return []


@functools.cache
def _template_pattern(template: str) -> re.Pattern[str]:
    return re.compile(re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template)))


def is_openai_route(request: Request) -> bool:
    return request.url.path.startswith(OPENAI_PATH_PREFIX)


def describe_validation_errors(errors: Any) -> tuple[str, str | None]:
    """A readable message, and the dotted path of the first field at fault."""
    parts = []
    first_param: str | None = None
    for item in errors:
        location = [str(p) for p in item.get("loc", ()) if p not in ("body", "query", "path")]
        where = ".".join(location)
        message = str(item.get("msg")).removeprefix("Value error, ")
        if item.get("type") == "json_invalid":
            parts.append(BODY_NOT_JSON)
            continue
        first_param = first_param or where or None
        parts.append(f"{where}: {message}" if where else message)
    return "; ".join(parts) or "invalid request", first_param


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(GatewayError)
    async def _gateway_error(request: Request, exc: GatewayError) -> FastJSONResponse:
        return error_response(exc, openai=is_openai_route(request))

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> FastJSONResponse:
        openai = is_openai_route(request)
        message, param = describe_validation_errors(exc.errors())
        code = validation_code(exc.errors()) if openai else "invalid_request"
        return FastJSONResponse(
            error_body("invalid_request_error", message, code, openai=openai, param=param),
            status_code=400 if openai else 422,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> FastJSONResponse:
        openai = is_openai_route(request)
        error_type, code = _HTTP_ERROR_TYPES.get(exc.status_code, ("http_error", "http_error"))
        status_code, message = exc.status_code, str(exc.detail)
        headers = dict(getattr(exc, "headers", None) or {})
        if status_code == 400:
            # A body that is not even text (FastAPI's "error parsing the body"): the same
            # answer as malformed JSON.
            status_code, message = (400 if openai else 422), BODY_NOT_JSON
        elif status_code == 405:
            message = f"Method not allowed ({request.method} {request.url.path})"
            if methods := allowed_methods(request):
                headers["Allow"] = ", ".join(methods)
        elif status_code == 404 and "endpoint" not in request.scope:
            # No route matched (a route's own 404 is a GatewayError): OpenAI's words.
            error_type = "invalid_request_error" if openai else error_type
            message, code = f"Invalid URL ({request.method} {request.url.path})", "unknown_url"
        return FastJSONResponse(
            error_body(error_type, message, code, openai=openai),
            status_code=status_code,
            headers=headers,
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> FastJSONResponse:
        logger.exception("unhandled error", exc_info=exc)
        return FastJSONResponse(
            error_body(
                "internal_error",
                "the gateway failed unexpectedly",
                "internal_error",
                openai=is_openai_route(request),
            ),
            status_code=500,
            headers=request_id_header(),
        )
