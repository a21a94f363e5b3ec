"""Slow clients over real sockets: headers or a body sent too slowly cost the gateway a
connection for the configured time only, then a 408 in the one error shape and a close."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from tests.integration.conftest import GatewayFactory
from tests.integration.gateway_processes import GatewayProcess
from tests.integration.live_servers import LiveGateway, ThreadedSimulator

BOUND = 1.0
"""The timeout the gateways under test are given, seconds."""
PATIENCE = 5.0
"""How long a test waits for the gateway to act before calling it a hang."""


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """SQLite only: how fast a client sends has nothing to do with the database."""
    return f"sqlite+aiosqlite:///{tmp_path / 'db' / 'thinkingthoughts.db'}"


TRICKLE_INTERVAL = 0.2
"""How often a trickling client sends one more byte, seconds."""


def read_until_closed(
    connection: socket.socket, *, trickle: bool = False
) -> tuple[bytes, float | None]:
    """Everything the server sends, and after how many seconds it closed (None: it
    kept the connection open for PATIENCE seconds). With `trickle`, the client sends one
    byte of body every TRICKLE_INTERVAL meanwhile, as a slow client does."""
    started = time.monotonic()
    connection.settimeout(TRICKLE_INTERVAL if trickle else PATIENCE)
    received = b""
    while time.monotonic() - started < PATIENCE:
        try:
            chunk = connection.recv(65536)
        except TimeoutError:
            # Once the answer has begun, a byte more would only race the server's close
            # (and a reset can discard the answer before it is read).
            if trickle and not received:
                connection.sendall(b" ")
            continue
        except ConnectionResetError:
            return received, time.monotonic() - started
        if not chunk:
            return received, time.monotonic() - started
        received += chunk
    return received, None


def read_one_response(connection: socket.socket) -> bytes:
    """One whole response of a kept-alive connection: its head, then as many body bytes
    as its content-length says (the two may arrive in separate packets)."""
    received = b""
    while b"\r\n\r\n" not in received:
        received += connection.recv(65536)
    head, _, body = received.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        body += connection.recv(65536)
    return head + b"\r\n\r\n" + body


def error_of(answer: bytes) -> dict[str, object]:
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408"), answer
    error: dict[str, object] = orjson.loads(body)["error"]
    return error


@pytest.fixture
def served(tmp_path: Path, simulator: ThreadedSimulator) -> Iterator[GatewayProcess]:
    """`thinkingthoughts serve`, as deployed, with a short header timeout."""
    gateway = GatewayProcess(
        tmp_path / "served",
        {"LLM_BASE_URL": simulator.base_url, "TT_HEADER_TIMEOUT": str(BOUND)},
    )
    try:
        yield gateway
    finally:
        gateway.stop()


@pytest.mark.parametrize(
    "sent",
    [b"", b"GET /health HT", b"GET /health HTTP/1.1\r\nHost: x\r\nx-api-key: tt_"],
    ids=["nothing", "half-a-request-line", "partial-headers"],
)
def test_a_client_slow_to_send_headers_gets_408_and_is_closed(
    served: GatewayProcess, sent: bytes
) -> None:
    with socket.create_connection(("127.0.0.1", served.port)) as connection:
        connection.sendall(sent)
        answer, closed_after = read_until_closed(connection)

    assert closed_after is not None, "the connection was held open"
    assert error_of(answer) == {
        "type": "invalid_request_error",
        "message": f"the request headers were not received within {BOUND:g} seconds",
        "code": "request_timeout",
    }


def test_the_header_bound_applies_to_each_request_of_a_kept_alive_connection(
    served: GatewayProcess,
) -> None:
    with socket.create_connection(("127.0.0.1", served.port)) as connection:
        connection.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        connection.settimeout(PATIENCE)
        assert read_one_response(connection).startswith(b"HTTP/1.1 200")
        connection.sendall(b"GET /health HTTP/1.1\r\nHost:")

        answer, closed_after = read_until_closed(connection)

    assert closed_after is not None, "the connection was held open"
    assert error_of(answer)["code"] == "request_timeout"


@pytest.fixture
def impatient(gateway_factory: GatewayFactory) -> LiveGateway:
    return gateway_factory(body_timeout=BOUND)


def partial_post(gateway: LiveGateway, path: str, *, key: str | None) -> socket.socket:
    """A POST announcing 100 bytes of body and sending 10."""
    connection = socket.create_connection(("127.0.0.1", gateway.server.port))
    head = f"POST {path} HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\n"
    if key is not None:
        head += f"x-api-key: {key}\r\n"
    connection.sendall(head.encode() + b"content-length: 100\r\n\r\n" + b'{"message"')
    return connection


@pytest.mark.parametrize(
    ("path", "expected_keys"),
    [
        ("/api/chat", {"type", "message", "code"}),
        ("/v1/chat/completions", {"type", "message", "code", "param"}),
    ],
    ids=["native", "openai"],
)
def test_a_body_sent_too_slowly_gets_408_in_the_routes_error_shape_and_is_closed(
    impatient: LiveGateway, path: str, expected_keys: set[str]
) -> None:
    with partial_post(impatient, path, key=impatient.admin_key) as connection:
        answer, closed_after = read_until_closed(connection, trickle=True)

    assert closed_after is not None, "the connection was held open"
    error = error_of(answer)
    assert set(error) == expected_keys
    assert error["code"] == "request_timeout"
    assert error["message"] == f"the request body was not received within {BOUND:g} seconds"


def test_a_body_the_gateway_never_reads_does_not_hold_the_connection(
    impatient: LiveGateway,
) -> None:
    with partial_post(impatient, "/api/no-such-route", key=None) as connection:
        answer, closed_after = read_until_closed(connection, trickle=True)

    assert answer.startswith(b"HTTP/1.1 404")
    assert closed_after is not None, "the connection was held open for the rest of the body"


def test_a_whole_body_is_answered_and_the_connection_kept(impatient: LiveGateway) -> None:
    body = b'{"message": "hello"}'
    with socket.create_connection(("127.0.0.1", impatient.server.port)) as connection:
        connection.sendall(
            b"POST /api/chat HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\n"
            + f"x-api-key: {impatient.admin_key}\r\ncontent-length: {len(body)}\r\n\r\n".encode()
            + body
        )
        connection.settimeout(PATIENCE)
        answer = connection.recv(65536)
        connection.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        second = connection.recv(65536)

    assert answer.startswith(b"HTTP/1.1 200")
    assert b"connection: close" not in answer.lower()
    assert second.startswith(b"HTTP/1.1 200")
