"""Pure choices of the launcher."""

from __future__ import annotations

import socket

import pytest

from thinkingthoughts.launcher import gateway_port_problem, port_is_free, ui_gateway_url
from thinkingthoughts.settings import Settings


def test_the_ui_talks_to_the_named_gateway_else_the_configured_one_else_the_local_one() -> None:
    local = Settings(_env_file=None, host="0.0.0.0", port=8123)
    configured = Settings(_env_file=None, ui_backend_api_url="http://gw:8001")

    assert ui_gateway_url(local, None) == "http://127.0.0.1:8123"
    assert ui_gateway_url(configured, None) == "http://gw:8001"
    assert ui_gateway_url(configured, "http://other:9") == "http://other:9"


def test_the_configured_gateway_comes_from_the_pages_own_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("STREAMLIT_BACKEND_API_URL", "http://from-env:8001")
    assert ui_gateway_url(Settings(_env_file=None), None) == "http://from-env:8001"


def _port_left_in_time_wait() -> int:
    """A loopback port nothing listens on, whose last connection waits in TIME_WAIT
    (the server's side closed first, as a stopped server's does)."""
    with socket.socket() as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = int(listener.getsockname()[1])
        with socket.create_connection(("127.0.0.1", port)) as client:
            accepted, _ = listener.accept()
            accepted.close()
            assert client.recv(1) == b""  # the server's close has arrived
    return port


def test_a_port_whose_last_connection_lingers_in_time_wait_is_free() -> None:
    port = _port_left_in_time_wait()

    assert port_is_free(port)
    assert gateway_port_problem("127.0.0.1", port) is None


def test_a_port_someone_listens_on_is_taken_and_the_problem_names_the_setting() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = int(listener.getsockname()[1])

        assert not port_is_free(port)
        assert not port_is_free(port, "0.0.0.0")
        problem = gateway_port_problem("127.0.0.1", port)

    assert problem is not None
    assert str(port) in problem
    assert "TT_PORT" in problem
