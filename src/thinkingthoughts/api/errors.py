"""The one error shape, `{"error": {"type", "message", "code"}}`, registered in one place."""

from __future__ import annotations

import logging
import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from thinkingthoughts.api.responses import FastJSONResponse
from thinkingthoughts.errors import GatewayError, RateLimitedError

logger = logging.getLogger(__name__)

_HTTP_ERROR_TYPES = {
    401: ("authentication_error", "invalid_api_key"),
    403: ("permission_error", "permission_denied"),
    404: ("not_found_error", "not_found"),
    405: ("invalid_request_error", "method_not_allowed"),
    413: ("invalid_request_error", "payload_too_large"),
}


def error_body(error_type: str, message: str, code: str) -> dict[str, Any]:
    return {"error": {"type": error_type, "message": message, "code": code}}


def gateway_error_body(exc: GatewayError) -> dict[str, Any]:
    return error_body(exc.error_type, exc.message, exc.code)


def error_response(exc: GatewayError) -> FastJSONResponse:
    headers = {}
    if isinstance(exc, RateLimitedError):
        headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after)))
    return FastJSONResponse(gateway_error_body(exc), status_code=exc.status_code, headers=headers)


def describe_validation_errors(errors: Any) -> str:
    parts = []
    for item in errors:
        location = [str(p) for p in item.get("loc", ()) if p not in ("body", "query", "path")]
        where = ".".join(location)
        if item.get("type") == "json_invalid":
            parts.append("the request body is not valid JSON")
        elif where:
            parts.append(f"{where}: {item.get('msg')}")
        else:
            parts.append(str(item.get("msg")))
    return "; ".join(parts) or "invalid request"


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(GatewayError)
    async def _gateway_error(_: Request, exc: GatewayError) -> FastJSONResponse:
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, exc: RequestValidationError) -> FastJSONResponse:
        return FastJSONResponse(
            error_body(
                "invalid_request_error", describe_validation_errors(exc.errors()), "invalid_request"
            ),
            status_code=422,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> FastJSONResponse:
        error_type, code = _HTTP_ERROR_TYPES.get(exc.status_code, ("http_error", "http_error"))
        return FastJSONResponse(
            error_body(error_type, str(exc.detail), code),
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> FastJSONResponse:
        logger.exception("unhandled error", exc_info=exc)
        return FastJSONResponse(
            error_body("internal_error", "the gateway failed unexpectedly", "internal_error"),
            status_code=500,
        )
