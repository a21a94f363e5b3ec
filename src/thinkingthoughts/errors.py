"""Every error the gateway raises on purpose, and the HTTP status each one maps to.

    GatewayError                     500  internal_error
    ├── InvalidRequestError          422  invalid_request
    │   ├── UnknownTraitError        422  unknown_trait
    │   ├── TraitLevelError          422  invalid_trait_level
    │   └── BadRequestError          400  (invalid_session_id, nothing_to_regenerate)
    ├── AuthenticationError          401  invalid_api_key
    ├── PermissionDeniedError        403  permission_denied
    ├── NotFoundError                404  not_found
    │   └── SessionNotFoundError     404  session_not_found
    ├── ConflictError                409  conflict
    │   ├── SlugTakenError           409  slug_taken
    │   └── ConcurrentChangeError    409  concurrent_change
    ├── PayloadTooLargeError         413  payload_too_large
    │   └── ContextOverflowError     413  context_length_exceeded
    ├── RateLimitedError             429  rate_limited  (carries retry_after)
    ├── ServiceUnavailableError      503  service_unavailable
    │   └── DatabaseUnavailableError 503  database_unavailable
    └── UpstreamError                502  upstream_error
        ├── UpstreamUnavailableError 503  upstream_unavailable
        └── UpstreamTimeoutError     504  upstream_timeout

Services raise these; `api.errors` turns each into the one error shape
`{"error": {"type", "message", "code"}}` with its status. Anything else is a bug and
answers 500 without details.
"""

from __future__ import annotations


class GatewayError(Exception):
    status_code = 500
    error_type = "internal_error"
    code = "internal_error"
    param: str | None = None
    """The request field at fault, when one is (OpenAI's `param`)."""

    def __init__(self, message: str, *, code: str | None = None, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.param = param


class InvalidRequestError(GatewayError):
    status_code = 422
    error_type = "invalid_request_error"
    code = "invalid_request"


class UnknownTraitError(InvalidRequestError):
    code = "unknown_trait"


class TraitLevelError(InvalidRequestError):
    code = "invalid_trait_level"


class BadRequestError(InvalidRequestError):
    """A request of the right shape that names what cannot be: a session id that is no
    UUID, a message to answer again that is none of the user's."""

    status_code = 400


class AuthenticationError(GatewayError):
    status_code = 401
    error_type = "authentication_error"
    code = "invalid_api_key"


class PermissionDeniedError(GatewayError):
    status_code = 403
    error_type = "permission_error"
    code = "permission_denied"


class NotFoundError(GatewayError):
    status_code = 404
    error_type = "not_found_error"
    code = "not_found"


class SessionNotFoundError(NotFoundError):
    """No session of that id the caller may see: missing and another owner's are
    answered alike, so an answer never reveals someone else's conversation."""

    code = "session_not_found"

    def __init__(self, session_id: str) -> None:
        super().__init__(f"no session '{session_id}'")


class ConflictError(GatewayError):
    status_code = 409
    error_type = "conflict_error"
    code = "conflict"


class ConcurrentChangeError(ConflictError):
    """A write met a change another request made meanwhile (a row it refers to was
    deleted, a unique value taken): storage's word for a database integrity error."""

    code = "concurrent_change"


class SlugTakenError(ConflictError):
    code = "slug_taken"

    def __init__(self, slug: str) -> None:
        super().__init__(f"a persona with slug '{slug}' exists")


class PayloadTooLargeError(GatewayError):
    status_code = 413
    error_type = "invalid_request_error"
    code = "payload_too_large"


class ContextOverflowError(PayloadTooLargeError):
    code = "context_length_exceeded"


class RateLimitedError(GatewayError):
    status_code = 429
    error_type = "rate_limit_error"
    code = "rate_limited"

    def __init__(
        self,
        message: str,
        *,
        retry_after: float,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message, code=code)
        self.retry_after = retry_after
        self.headers = headers or {}


class ServiceUnavailableError(GatewayError):
    """A part of the gateway itself (not the upstream) cannot serve right now."""

    status_code = 503
    error_type = "service_unavailable_error"
    code = "service_unavailable"


class DatabaseUnavailableError(ServiceUnavailableError):
    """The database cannot be reached, or did not answer within its timeouts.

    Storage raises it in place of the driver's connection, pool and timeout errors, so
    that no layer above storage ever sees a database exception.
    """

    code = "database_unavailable"


class UpstreamError(GatewayError):
    status_code = 502
    error_type = "upstream_error"
    code = "upstream_error"


class UpstreamUnavailableError(UpstreamError):
    status_code = 503
    code = "upstream_unavailable"


class UpstreamTimeoutError(UpstreamError):
    status_code = 504
    code = "upstream_timeout"
