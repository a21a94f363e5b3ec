"""Process-level running: the gateway under uvicorn, and `up` (gateway plus simulator)."""

from __future__ import annotations

import copy
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from typing import Any

import uvicorn
from uvicorn.config import LOGGING_CONFIG

from thinkingthoughts.app import create_app
from thinkingthoughts.settings import Settings

SIMULATOR_START_TIMEOUT = 30.0

SIMULATOR_BANNER = """
  ============================================================================
   Replies are SIMULATED: no model is running. The bundled simulator on port
   {port} answers in place of an inference server.

   To chat with a real model, set LLM_BASE_URL (and LLM_MODEL) in .env:
     vLLM:    LLM_BASE_URL=http://localhost:8000/v1
              LLM_MODEL=mistralai/Mistral-7B-Instruct-v0.3
     OpenAI:  LLM_BASE_URL=https://api.openai.com/v1
              LLM_API_KEY=sk-...   LLM_MODEL=gpt-4o-mini
  ============================================================================
"""


def serve_gateway(
    settings: Settings, *, host: str, port: int, upstream_base_url: str | None = None
) -> None:
    uvicorn.run(
        create_app(settings, upstream_base_url=upstream_base_url),
        host=host,
        port=port,
        log_level=settings.log_level,
        log_config=gateway_log_config(settings.log_level),
        access_log=False,
        timeout_graceful_shutdown=5,
    )


def gateway_log_config(level: str) -> dict[str, Any]:
    """Uvicorn's logging, with the gateway's own loggers at the configured level."""
    config = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"]["thinkingthoughts"] = {
        "handlers": ["default"],
        "level": level.upper(),
        "propagate": False,
    }
    return config


def run_stack(settings: Settings, *, host: str, port: int) -> int:
    """Run the gateway; start the simulator first when no inference server is configured."""
    if settings.llm_base_url is not None:
        serve_gateway(settings, host=host, port=port)
        return 0
    simulator = start_simulator(settings.simulator_port)
    if simulator is None:
        print(
            f"error: the simulator could not start on port {settings.simulator_port}; "
            "is the port in use? Set TT_SIMULATOR_PORT to another one.",
            file=sys.stderr,
        )
        return 1
    print(SIMULATOR_BANNER.format(port=settings.simulator_port), flush=True)
    # uvicorn replays SIGTERM after its graceful shutdown; turned into an exception here,
    # it lets the `finally` below stop the simulator (as `docker stop` or systemd expect).
    signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        serve_gateway(
            settings,
            host=host,
            port=port,
            upstream_base_url=f"http://127.0.0.1:{settings.simulator_port}/v1",
        )
    except KeyboardInterrupt:
        pass  # uvicorn re-raises Ctrl-C after its graceful shutdown
    finally:
        simulator.terminate()
        try:
            simulator.wait(timeout=5)
        except subprocess.TimeoutExpired:
            simulator.kill()
    return 0


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def start_simulator(port: int) -> subprocess.Popen[bytes] | None:
    """Start the simulator and wait until it answers; None when it cannot start.

    A port that is already taken is refused up front: whatever listens there would
    answer the health check and pass for the simulator.
    """
    if not port_is_free(port):
        return None
    command = [sys.executable, "-m", "thinkingthoughts", "simulate", "--port", str(port)]
    process = subprocess.Popen(command)  # noqa: S603 - our own interpreter and module
    deadline = time.monotonic() + SIMULATOR_START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return None
        if _healthy(f"http://127.0.0.1:{port}/health"):
            return process
        time.sleep(0.1)
    process.kill()
    return None


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 - loopback URL
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False
