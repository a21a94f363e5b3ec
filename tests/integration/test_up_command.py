"""`thinkingthoughts up` (what `make run` runs): a real process answering a real chat."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.integration.conftest import SimulatorFactory
from tests.integration.gateway_processes import wait_until_answering, wait_until_ready
from thinkingthoughts.launcher import free_port, start_simulator


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "term"])
def test_up_serves_persona_chat_on_the_simulator_and_stops_cleanly(
    tmp_path: Path, stop_signal: signal.Signals
) -> None:
    gateway_port, simulator_port, ui_port = free_port(), free_port(), free_port()
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in ("LLM_BASE_URL", "VLLM_API_BASE_URL", "DATABASE_URL", "REDIS_URL")
    }
    environment |= {
        "TT_PORT": str(gateway_port),
        "TT_SIMULATOR_PORT": str(simulator_port),
        "TT_UI_PORT": str(ui_port),
        "TT_DATA_DIR": str(tmp_path / "data"),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "thinkingthoughts", "up"],
        cwd=tmp_path,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{gateway_port}"
    try:
        wait_until_ready(base, process)
        key = (tmp_path / "data" / "admin.key").read_text().strip()
        reply = httpx.post(
            base + "/api/chat", json={"message": "hello there"}, headers={"x-api-key": key}
        )
        assert reply.status_code == 200
        assert reply.json()["assistant"].startswith('[Seline] You said: "hello there"')
        # The chat UI runs beside the gateway, and it is up before the banner is printed.
        assert httpx.get(f"http://127.0.0.1:{ui_port}/_stcore/health").status_code == 200
    finally:
        process.send_signal(stop_signal)
        output, _ = process.communicate(timeout=30)

    assert "SIMULATED" in output
    assert key in output  # the first start prints the admin key once
    assert f"Chat UI:    http://127.0.0.1:{ui_port}" in output
    assert process.returncode == 0
    for child_port in (simulator_port, ui_port):  # the children went away with the gateway
        with socket.socket() as probe:
            assert probe.connect_ex(("127.0.0.1", child_port)) != 0


def test_up_does_not_take_another_server_on_the_port_for_its_simulator(
    simulator_factory: SimulatorFactory,
) -> None:
    """start_simulator polls /health on the port: whatever already listens there answers
    200 before the new process has even failed to bind, so `up` announces a simulator
    that is not running and points the gateway at a stranger."""
    squatter = simulator_factory()
    process = start_simulator(squatter.port)
    try:
        assert process is None
    finally:
        if process is not None:
            process.kill()
            process.wait(timeout=10)


def test_up_on_a_taken_gateway_port_stops_before_announcing_and_names_tt_port(
    tmp_path: Path,
) -> None:
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in ("LLM_BASE_URL", "VLLM_API_BASE_URL", "DATABASE_URL", "REDIS_URL")
    }
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = int(squatter.getsockname()[1])
        environment |= {
            "TT_PORT": str(taken),
            "TT_SIMULATOR_PORT": str(free_port()),
            "TT_DATA_DIR": str(tmp_path / "data"),
        }
        finished = subprocess.run(
            [sys.executable, "-m", "thinkingthoughts", "up", "--no-ui"],
            cwd=tmp_path,
            env=environment,
            capture_output=True,
            text=True,
            timeout=60,
        )

    assert finished.returncode == 1
    assert f"port {taken}" in finished.stderr
    assert "TT_PORT" in finished.stderr
    assert "Gateway:" not in finished.stdout  # never announced as ready
    assert "SIMULATED" not in finished.stdout  # nothing was started
    assert not (tmp_path / "data" / "admin.key").exists()  # nor created


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(child) for child in path.read_text().split()]


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT], ids=["term", "int"])
def test_ui_stopped_by_a_signal_takes_streamlit_with_it(
    tmp_path: Path, stop_signal: signal.Signals
) -> None:
    ui_port = free_port()
    environment = dict(os.environ) | {
        "TT_UI_PORT": str(ui_port),
        "TT_DATA_DIR": str(tmp_path / "data"),
        "STREAMLIT_BACKEND_API_URL": f"http://127.0.0.1:{free_port()}",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "thinkingthoughts", "ui"],
        cwd=tmp_path,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until_answering(f"http://127.0.0.1:{ui_port}/_stcore/health", process, "the UI")
        (streamlit,) = _children(process.pid)
    finally:
        process.send_signal(stop_signal)
        process.wait(timeout=30)

    assert process.returncode == 0
    assert not _running(streamlit), "Streamlit outlived `thinkingthoughts ui`"
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", ui_port)) != 0
