"""The gateway's HTTP API as the page uses it: `GatewayClient` and a chat turn's request
and outcome.

`GatewayClient` is a thin synchronous client (httpx) holding the base URL and the
`x-api-key` header. Its methods answer decoded JSON; whatever goes wrong (the gateway is
unreachable, the inference server is down, a limit, a refused key, something deleted
meanwhile, an invalid request) raises `GatewayProblem` (see `gateway_problems`) with a
kind the page can react to and a message in plain words.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self, TypedDict, Unpack
from urllib.parse import quote

import httpx

from thinkingthoughts.ui.gateway_problems import (
    GatewayProblem,
    problem_for,
    problem_for_error_event,
    retry_after_seconds,
)
from thinkingthoughts.ui.sse import SseDecodeError, parse_sse

DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=5.0)
STREAM_TIMEOUT = httpx.Timeout(30.0, connect=5.0, read=120.0)
SESSION_PAGE_SIZE = 100
PERSONA_MODEL_PREFIX = "persona:"

JsonObject = dict[str, Any]


@dataclass
class ChatOutcome:
    """What a streamed turn told besides its text: ids from `start`, usage from `done`."""

    session_id: str | None = None
    message_id: str | None = None
    user_message_id: str | None = None
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
    parent_id: str | None
    model: str | None
    regenerate: bool


def chat_request_body(**fields: Unpack[ChatFields]) -> JsonObject:
    """The JSON of a streamed `POST /api/chat`; fields left as None are not sent.

    A regeneration sends no message: the gateway adds another reply (a sibling of the
    earlier ones, which stay) to the user message named by `parent_id`, else to the
    active path's last one. With a message, `parent_id` is the message it answers from
    (a branch when it is not the active leaf; "root" starts a new first message).
    """
    body: JsonObject = {"stream": True}
    message = fields.get("message")
    if fields.get("regenerate"):
        body["regenerate"] = True
    elif message is not None:
        body["message"] = message
    for name in ("session_id", "parent_id", "persona", "temperature", "max_tokens", "model"):
        value = fields.get(name)
        if value is not None:
            body[name] = value
    traits = fields.get("traits")
    if traits:
        body["traits"] = dict(traits)
    return body


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
        return self.personas_and_default()[0]

    def personas_and_default(self) -> tuple[list[JsonObject], str | None]:
        """The personas this key may use, and the slug of the gateway's default one (the
        persona a chat naming none gets), when it is among them."""
        listing = _object(self._get("/api/personas"))
        return _objects(listing, "data"), _text(listing.get("default"))

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
        return self._whole_session(detail, page_size=page_size)

    def _whole_session(
        self, detail: JsonObject, *, page_size: int = SESSION_PAGE_SIZE
    ) -> JsonObject:
        """`detail` (a session's first page of messages) with the rest of its active path."""
        path = f"/api/sessions/{_part(str(detail.get('id')))}"
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

    def select_message(self, session_id: str, message_id: str) -> JsonObject:
        """Make the path through `message_id` the session's active one (down to the newest
        leaf below it); the session as `read_session` gives it."""
        path = f"/api/sessions/{_part(session_id)}/messages/{_part(message_id)}/select"
        return self._whole_session(_object(self._call("POST", path)))

    def fork_session(self, session_id: str, message_id: str) -> JsonObject:
        """A new session whose history is a copy of the path up to `message_id`."""
        path = f"/api/sessions/{_part(session_id)}/fork"
        return self._whole_session(
            _object(self._call("POST", path, json={"message_id": message_id}))
        )

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
        outcome.user_message_id = _text(payload.get("user_message_id"))
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
