"""The gateway's HTTP API as the page uses it, and every failure as one `GatewayProblem`.

`GatewayClient` is a thin synchronous client (httpx) holding the base URL and the
`x-api-key` header. Its methods answer decoded JSON; whatever goes wrong (the gateway is
unreachable, the inference server is down, a limit, a refused key, something deleted
meanwhile, an invalid request) raises `GatewayProblem` with a kind the page can react to
and a message in plain words.
"""

from __future__ import annotations

import email.utils
import math
import time
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal, Self, TypedDict, Unpack
from urllib.parse import quote

import httpx

from thinkingthoughts.ui.sse import SseDecodeError, parse_sse

ProblemKind = Literal[
    "unreachable",  # the gateway itself: connection refused, timed out
    "upstream",  # the inference server behind it is down, failing or too slow
    "rate_limited",  # 429: wait `retry_after` seconds
    "too_long",  # 413: a message or request too long
    "unauthorized",  # 401: the key was refused
    "forbidden",  # 403: the key may not do this
    "gone",  # 404: deleted meanwhile (another tab), or never there
    "invalid",  # 422 (and 400): the gateway's own message says what
    "conflict",  # 409: a slug taken, the last admin key
    "unavailable",  # 503 from the gateway itself (its rate limiter cannot be checked)
    "cut_off",  # a streamed reply that stopped before its end
    "unexpected",  # anything else: a 500, an answer that is not the API's
]

DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=5.0)
STREAM_TIMEOUT = httpx.Timeout(30.0, connect=5.0, read=120.0)
SESSION_PAGE_SIZE = 100
PERSONA_MODEL_PREFIX = "persona:"

JsonObject = dict[str, Any]


class GatewayProblem(Exception):  # noqa: N818 - the name the page uses everywhere
    """Why a call to the gateway failed, in plain words.

    `kind` says what happened (see `ProblemKind`); `message` is a sentence for people;
    `retry_after` is the wait in seconds of a 429 (None when the gateway gave none);
    `detail` is the gateway's own message, when it sent one.
    """

    def __init__(
        self,
        kind: ProblemKind,
        message: str,
        retry_after: float | None = None,
        *,
        status: int | None = None,
        code: str | None = None,
        detail: str | None = None,
    ) -> None:
        super().__init__(message)
        self.kind: ProblemKind = kind
        self.message = message
        self.retry_after = retry_after
        self.status = status
        self.code = code
        self.detail = detail

    def __repr__(self) -> str:
        return f"GatewayProblem({self.kind!r}, {self.message!r}, {self.retry_after!r})"


@dataclass
class ChatOutcome:
    """What a streamed turn told besides its text: ids from `start`, usage from `done`."""

    session_id: str | None = None
    message_id: str | None = None
    persona: str | None = None
    model: str | None = None
    finish_reason: str | None = None
    usage: dict[str, int] | None = None
    finished: bool = False

    @property
    def started(self) -> bool:
        return self.session_id is not None or self.message_id is not None


class ChatFields(TypedDict, total=False):
    """What a page may say about a chat turn; every field is optional."""

    message: str | None
    persona: str | None
    traits: Mapping[str, int] | None
    temperature: float | None
    max_tokens: int | None
    session_id: str | None
    model: str | None
    regenerate: bool


def chat_request_body(**fields: Unpack[ChatFields]) -> JsonObject:
    """The JSON of a streamed `POST /api/chat`; fields left as None are not sent.

    A regeneration sends no message: the gateway answers the session's last user
    message again, in place of its last reply.
    """
    body: JsonObject = {"stream": True}
    message = fields.get("message")
    if fields.get("regenerate"):
        body["regenerate"] = True
    elif message is not None:
        body["message"] = message
    for name in ("session_id", "persona", "temperature", "max_tokens", "model"):
        value = fields.get(name)
        if value is not None:
            body[name] = value
    traits = fields.get("traits")
    if traits:
        body["traits"] = dict(traits)
    return body


def retry_after_seconds(value: str | None, *, now: float | None = None) -> float | None:
    """A Retry-After header as seconds to wait: delta-seconds or an HTTP date."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            moment = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
        seconds = moment.timestamp() - (time.time() if now is None else now)
    if math.isnan(seconds) or math.isinf(seconds):
        return None
    return max(0.0, seconds)


def error_fields(body: object) -> tuple[str | None, str | None, str | None]:
    """(type, code, message) of the gateway's error shape, native or OpenAI's."""
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            kind, code, message = error.get("type"), error.get("code"), error.get("message")
            return (
                kind if isinstance(kind, str) else None,
                code if isinstance(code, str) else None,
                message if isinstance(message, str) else None,
            )
    return None, None, None


def _wait_words(seconds: float | None) -> str:
    if seconds is None:
        return "wait a moment"
    whole = max(1, math.ceil(seconds))
    return f"wait {whole} second{'s' if whole != 1 else ''}"


def problem_for(status: int, body: object, *, retry_after: float | None = None) -> GatewayProblem:
    """The problem an error answer (`status` and its decoded body) stands for."""
    error_type, code, detail = error_fields(body)
    said = f": {detail}" if detail else ""
    if status == 429 or error_type == "rate_limit_error":
        return GatewayProblem(
            "rate_limited",
            f"Too many requests right now; {_wait_words(retry_after)} and try again.",
            retry_after,
            status=status,
            code=code,
            detail=detail,
        )
    if error_type == "service_unavailable_error":
        return GatewayProblem(
            "unavailable",
            f"The gateway cannot serve this right now{said}.",
            status=status,
            code=code,
            detail=detail,
        )
    if status in (502, 503, 504) or error_type == "upstream_error":
        return GatewayProblem(
            "upstream",
            "The inference server is not answering right now; try again in a moment"
            f"{' (' + detail + ')' if detail else ''}.",
            status=status,
            code=code,
            detail=detail,
        )
    simple: dict[int, tuple[ProblemKind, str]] = {
        413: ("too_long", f"The message is too long{said}."),
        401: ("unauthorized", "The API key was refused."),
        403: ("forbidden", f"This key may not do that{said}."),
        404: ("gone", f"The gateway does not know this (it may have been deleted){said}."),
        409: ("conflict", f"That clashes with what exists{said}."),
        422: ("invalid", f"The gateway refused the request{said}."),
        400: ("invalid", f"The gateway refused the request{said}."),
    }
    if status in simple:
        kind, message = simple[status]
        return GatewayProblem(kind, message, status=status, code=code, detail=detail)
    return GatewayProblem(
        "unexpected",
        f"The gateway failed unexpectedly (HTTP {status}){said}.",
        status=status,
        code=code,
        detail=detail,
    )


_EVENT_STATUS = {
    "invalid_request_error": 422,
    "authentication_error": 401,
    "permission_error": 403,
    "not_found_error": 404,
    "conflict_error": 409,
    "rate_limit_error": 429,
    "service_unavailable_error": 503,
    "upstream_error": 502,
}


def problem_for_error_event(data: object) -> GatewayProblem:
    """The problem an `error` event of a stream stands for (it carries no HTTP status)."""
    error_type, code, _ = error_fields(data)
    status = _EVENT_STATUS.get(error_type or "", 500)
    if code in ("message_too_long", "context_length_exceeded", "payload_too_large"):
        status = 413
    return problem_for(status, data)


class GatewayClient:
    """The gateway's API, synchronous, with one key. Use it as a context manager."""

    def __init__(
        self,
        base_url: str,
        api_key: str | None,
        *,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        headers = {"x-api-key": api_key} if api_key else {}
        self._http = httpx.Client(base_url=self.base_url, headers=headers, timeout=timeout)
        self.last_chat: ChatOutcome | None = None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # -- personas and traits ------------------------------------------------------------

    def personas(self) -> list[JsonObject]:
        return _objects(self._get("/api/personas"), "data")

    def persona(self, ref: str) -> JsonObject:
        return _object(self._get(f"/api/personas/{_part(ref)}"))

    def create_persona(self, sheet: Mapping[str, Any]) -> JsonObject:
        return _object(self._call("POST", "/api/personas", json=dict(sheet)))

    def replace_persona(self, ref: str, sheet: Mapping[str, Any]) -> JsonObject:
        return _object(self._call("PUT", f"/api/personas/{_part(ref)}", json=dict(sheet)))

    def delete_persona(self, ref: str) -> None:
        self._call("DELETE", f"/api/personas/{_part(ref)}")

    def preview(self, slug: str, traits: Mapping[str, int]) -> JsonObject:
        """The compiled system prompt of a persona for these slider values."""
        path = f"/api/personas/{_part(slug)}/preview"
        return _object(self._call("POST", path, json={"traits": dict(traits)}))

    def traits(self) -> JsonObject:
        """The slider catalog: `dimensions` with labels and levels per locale."""
        return _object(self._get("/api/traits"))

    def models(self) -> list[str]:
        """The inference server's models (personas offered as models are left out)."""
        cards = _objects(self._get("/v1/models"), "data")
        ids = [card.get("id") for card in cards]
        return [i for i in ids if isinstance(i, str) and not i.startswith(PERSONA_MODEL_PREFIX)]

    # -- sessions -----------------------------------------------------------------------

    def sessions(self, *, limit: int = 10, offset: int = 0) -> JsonObject:
        """One page of the key's sessions, newest first: `data`, `total`, `limit`, `offset`."""
        return _object(self._get("/api/sessions", params={"limit": limit, "offset": offset}))

    def read_session(self, session_id: str, *, page_size: int = SESSION_PAGE_SIZE) -> JsonObject:
        """A session with every one of its messages (read `page_size` at a time)."""
        path = f"/api/sessions/{_part(session_id)}"
        detail = _object(self._get(path, params={"limit": page_size, "offset": 0}))
        messages = _list(detail.get("messages"))
        total = detail.get("messages_total")
        while isinstance(total, int) and len(messages) < total:
            params = {"limit": page_size, "offset": len(messages)}
            page = _list(_object(self._get(path, params=params)).get("messages"))
            if not page:
                break
            messages.extend(page)
        detail["messages"] = messages
        return detail

    def rename_session(self, session_id: str, title: str) -> JsonObject:
        path = f"/api/sessions/{_part(session_id)}"
        return _object(self._call("PATCH", path, json={"title": title}))

    def delete_session(self, session_id: str) -> None:
        self._call("DELETE", f"/api/sessions/{_part(session_id)}")

    def export_markdown(self, session_id: str) -> str:
        path = f"/api/sessions/{_part(session_id)}/export"
        return self._request("GET", path, params={"format": "md"}).text

    # -- keys -----------------------------------------------------------------------------

    def me(self) -> JsonObject:
        """The calling key: name, prefix, scopes, owner, limits."""
        return _object(self._get("/api/keys/me"))

    def usage(self, ref: str = "me", *, days: int = 30) -> JsonObject:
        """A key's usage: `totals` and `rows` per day, persona and model."""
        return _object(self._get(f"/api/keys/{_part(ref)}/usage", params={"days": days}))

    def api_keys(self) -> list[JsonObject]:
        """Every key (admin keys only)."""
        return _objects(self._get("/api/keys"), "data")

    # -- chat -----------------------------------------------------------------------------

    def stream_chat(
        self,
        *,
        on_start: Callable[[ChatOutcome], None] | None = None,
        **fields: Unpack[ChatFields],
    ) -> Generator[str, None, None]:
        """The reply's text, delta by delta, of a streamed `POST /api/chat`.

        `last_chat` remembers the turn's session and message ids (from `start`, also
        handed to `on_start` as soon as they arrive) and its usage and finish reason (from
        `done`). An `error` event raises GatewayProblem. Closing the generator early
        closes the connection: the gateway then stores the reply so far as interrupted.
        """
        body = chat_request_body(**fields)
        outcome = ChatOutcome()
        self.last_chat = outcome
        try:
            with self._http.stream("POST", "/api/chat", json=body, timeout=STREAM_TIMEOUT) as r:
                if r.is_error:
                    r.read()
                    raise self._problem(r)
                for event in parse_sse(r.iter_lines()):
                    text = _apply_event(outcome, event.event, event.data)
                    if event.event == "start" and on_start is not None:
                        on_start(outcome)
                    if text:
                        yield text
                    if outcome.finished:
                        return
        except SseDecodeError as exc:
            raise GatewayProblem(
                "unexpected", f"The gateway sent a stream the page cannot read ({exc})."
            ) from None
        except httpx.HTTPError as exc:
            raise self._transport_problem(exc, streaming=True) from None
        raise GatewayProblem(
            "cut_off", "The reply stopped before it was finished (the connection was closed)."
        )

    # -- plumbing ---------------------------------------------------------------------------

    def _get(self, path: str, *, params: Mapping[str, Any] | None = None) -> Any:
        return self._call("GET", path, params=params)

    def _call(self, method: str, path: str, **options: Any) -> Any:
        response = self._request(method, path, **options)
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise GatewayProblem(
                "unexpected",
                f"The gateway's answer to {method} {path} is not JSON; is "
                f"{self.base_url} really the gateway?",
                status=response.status_code,
            ) from None

    def _request(self, method: str, path: str, **options: Any) -> httpx.Response:
        try:
            response = self._http.request(method, path, **options)
        except httpx.HTTPError as exc:
            raise self._transport_problem(exc, streaming=False) from None
        if response.is_error:
            raise self._problem(response)
        return response

    def _problem(self, response: httpx.Response) -> GatewayProblem:
        try:
            body: object = response.json()
        except ValueError:
            body = None
        retry_after = retry_after_seconds(response.headers.get("retry-after"))
        return problem_for(response.status_code, body, retry_after=retry_after)

    def _transport_problem(self, exc: httpx.HTTPError, *, streaming: bool) -> GatewayProblem:
        if isinstance(exc, httpx.TimeoutException):
            return GatewayProblem(
                "unreachable",
                f"The gateway at {self.base_url} did not answer in time.",
                code="timeout",
            )
        if streaming and isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError):
            return GatewayProblem(
                "cut_off", "The reply stopped before it was finished (the connection was lost)."
            )
        return GatewayProblem(
            "unreachable",
            f"The gateway cannot be reached at {self.base_url}; is it running?",
            code="refused",
        )


def _apply_event(outcome: ChatOutcome, name: str, data: object) -> str:
    """Note what an event tells in `outcome`; the text it adds to the reply, if any."""
    payload = data if isinstance(data, dict) else {}
    if name == "start":
        outcome.session_id = _text(payload.get("session_id"))
        outcome.message_id = _text(payload.get("message_id"))
        outcome.persona = _text(payload.get("persona"))
        outcome.model = _text(payload.get("model"))
    elif name == "delta":
        return _text(payload.get("content")) or ""
    elif name == "done":
        outcome.message_id = _text(payload.get("message_id")) or outcome.message_id
        outcome.finish_reason = _text(payload.get("finish_reason"))
        usage = payload.get("usage")
        if isinstance(usage, dict):
            outcome.usage = {k: v for k, v in usage.items() if isinstance(v, int)}
        outcome.finished = True
    elif name == "error":
        raise problem_for_error_event(data)
    return ""


def _part(value: str) -> str:
    """A path segment: ids and slugs are safe, but nothing typed may change the path."""
    return quote(value, safe="")


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _object(value: object) -> JsonObject:
    if not isinstance(value, dict):
        raise GatewayProblem("unexpected", "The gateway's answer is not what the page expects.")
    return value


def _list(value: object) -> list[JsonObject]:
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, dict)]


def _objects(value: object, key: str) -> list[JsonObject]:
    return _list(_object(value).get(key))
