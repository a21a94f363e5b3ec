"""Process-level running: the gateway under uvicorn, and `up` (gateway plus simulator)."""

from __future__ import annotations

import asyncio
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import uvicorn

from thinkingthoughts.app import create_app, prepare_storage_once
from thinkingthoughts.http_server import http_protocol
from thinkingthoughts.observability.logs import gateway_log_config
from thinkingthoughts.observability.multiprocess import shared_metrics_directory
from thinkingthoughts.settings import Settings

APP_FACTORY = "thinkingthoughts.app:app_from_environment"
UI_SCRIPT = Path(__file__).with_name("ui") / "app.py"
UI_START_TIMEOUT = 30.0

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
    settings: Settings,
    *,
    host: str,
    port: int,
    upstream_base_url: str | None = None,
    workers: int = 1,
) -> None:
    """Serve the gateway; with several workers, each is its own process on the one port
    (the settings then come from the environment, as `serve` requires)."""
    common: dict[str, Any] = {
        "host": host,
        "port": port,
        "log_level": settings.log_level,
        "log_config": gateway_log_config(settings.log_level, settings.log_format),
        "access_log": False,
        "timeout_graceful_shutdown": 5,
        "http": http_protocol(settings.header_timeout),
    }
    if workers <= 1:
        uvicorn.run(create_app(settings, upstream_base_url=upstream_base_url), **common)
        return
    if settings.redis_url is None:
        print(
            f"note: {workers} workers without REDIS_URL: each worker counts rate limits "
            "on its own; set REDIS_URL for limits that hold across workers",
            file=sys.stderr,
        )
    asyncio.run(prepare_storage_once(settings))
    with shared_metrics_directory(settings.metrics_dir):
        uvicorn.run(APP_FACTORY, factory=True, workers=workers, **common)


def run_stack(settings: Settings, *, host: str, port: int, with_ui: bool = True) -> int:
    """Run the gateway, the chat UI beside it, and the simulator first when no inference
    server is configured; Ctrl-C (or SIGTERM) stops all of them."""
    children: list[subprocess.Popen[bytes]] = []
    # uvicorn replays SIGTERM after its graceful shutdown; turned into an exception here,
    # it lets the `finally` below stop the children (as `docker stop` or systemd expect).
    signal.signal(signal.SIGTERM, _raise_interrupt)
    problem = gateway_port_problem(host, port)
    if problem is not None:
        print(f"error: {problem}", file=sys.stderr)
        return 1
    try:
        upstream_base_url = None
        if settings.llm_base_url is None:
            simulator = start_simulator(settings.simulator_port)
            if simulator is None:
                print(
                    f"error: the simulator could not start on port {settings.simulator_port}; "
                    "is the port in use? Set TT_SIMULATOR_PORT to another one.",
                    file=sys.stderr,
                )
                return 1
            children.append(simulator)
            print(SIMULATOR_BANNER.format(port=settings.simulator_port), flush=True)
            upstream_base_url = f"http://127.0.0.1:{settings.simulator_port}/v1"
        gateway_url = f"http://{_reachable(host)}:{port}"
        ui = start_ui(settings, gateway_url=gateway_url, host=host) if with_ui else None
        if ui is not None:
            children.append(ui)
        print(
            stack_banner(
                gateway_url=gateway_url,
                ui_url=f"http://{_reachable(host)}:{settings.ui_port}" if ui else None,
                simulator_url=upstream_base_url,
            ),
            flush=True,
        )
        serve_gateway(settings, host=host, port=port, upstream_base_url=upstream_base_url)
    except KeyboardInterrupt:
        pass  # uvicorn re-raises Ctrl-C after its graceful shutdown
    finally:
        for child in reversed(children):
            stop_child(child)
    return 0


def stack_banner(*, gateway_url: str, ui_url: str | None, simulator_url: str | None) -> str:
    lines = ["", f"  Gateway:    {gateway_url}  (API, /health, /metrics)"]
    lines.append(f"  Chat UI:    {ui_url}" if ui_url else "  Chat UI:    not started")
    if simulator_url:
        lines.append(f"  Simulator:  {simulator_url}  (simulated replies, no model)")
    lines.append("  Ctrl-C stops everything.\n")
    return "\n".join(lines)


def stop_child(child: subprocess.Popen[bytes]) -> None:
    if child.poll() is not None:
        return
    child.terminate()
    try:
        child.wait(timeout=5)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()


def _reachable(host: str) -> str:
    """The address to give clients for a listening host (all interfaces: loopback)."""
    return "127.0.0.1" if host in ("0.0.0.0", "::", "") else host  # noqa: S104


def ui_command(settings: Settings, *, host: str) -> list[str]:
    """`streamlit run` of the chat page, on the configured port, without telemetry."""
    return [
        sys.executable, "-m", "streamlit", "run", str(UI_SCRIPT),
        "--server.port", str(settings.ui_port),
        "--server.address", host,
        "--server.headless", "true",
        "--browser.gatherUsageStats", "false",
        "--client.toolbarMode", "minimal",
    ]  # fmt: skip


def ui_environment(settings: Settings, *, gateway_url: str) -> dict[str, str]:
    """The page's settings: where the gateway is and where its first-start key lies."""
    return {
        **os.environ,
        "STREAMLIT_BACKEND_API_URL": gateway_url,
        "TT_DATA_DIR": str(settings.data_dir.resolve()),
    }


def start_ui(settings: Settings, *, gateway_url: str, host: str) -> subprocess.Popen[bytes] | None:
    """Start the chat UI and wait until it answers; None (with the reason printed) when
    the `ui` extra is not installed or the port is taken: the gateway runs on without it."""
    if importlib.util.find_spec("streamlit") is None:
        print(
            "note: the chat UI needs its extra: pip install 'thinkingthoughts[ui]'",
            file=sys.stderr,
        )
        return None
    if not port_is_free(settings.ui_port):
        print(
            f"note: port {settings.ui_port} is in use, the chat UI was not started "
            "(set TT_UI_PORT to another one)",
            file=sys.stderr,
        )
        return None
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and script
        ui_command(settings, host=host), env=ui_environment(settings, gateway_url=gateway_url)
    )
    health = f"http://{_reachable(host)}:{settings.ui_port}/_stcore/health"
    return _healthy_or_stopped(process, health, timeout=UI_START_TIMEOUT)


def _healthy_or_stopped(
    process: subprocess.Popen[bytes], url: str, *, timeout: float
) -> subprocess.Popen[bytes] | None:
    """`process` once `url` answers; else, or when stopped meanwhile (Ctrl-C, SIGTERM),
    the process is stopped before returning, so that it never outlives its starter."""
    try:
        if wait_until_healthy(process, url, timeout=timeout):
            return process
    except BaseException:
        stop_child(process)
        raise
    stop_child(process)
    return None


def ui_gateway_url(settings: Settings, given: str | None) -> str:
    """The gateway the page talks to: the one named on the command line, else
    STREAMLIT_BACKEND_API_URL, else this machine's gateway on TT_PORT."""
    return (
        given
        or settings.ui_backend_api_url
        or f"http://{_reachable(settings.host)}:{settings.port}"
    )


def run_ui(settings: Settings, *, host: str, gateway_url: str | None) -> int:
    """`thinkingthoughts ui`: the chat page alone, in the foreground."""
    url = ui_gateway_url(settings, gateway_url)
    child = subprocess.Popen(  # noqa: S603 - our own interpreter and script
        ui_command(settings, host=host), env=ui_environment(settings, gateway_url=url)
    )
    return run_in_foreground(child)


FORWARDED_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def run_in_foreground(child: subprocess.Popen[bytes]) -> int:
    """Wait for `child` and return its exit code (0 once asked to stop). SIGTERM and
    SIGINT sent to this process are passed on to it and its exit awaited: stopping us
    (`docker stop`, systemd, Ctrl-C) never leaves it running on its own."""
    stopping = False

    def forward(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        if child.poll() is None:
            child.send_signal(signum)

    previous = {number: signal.signal(number, forward) for number in FORWARDED_SIGNALS}
    try:
        code = child.wait()
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
        stop_child(child)
    return 0 if stopping else code


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
    return _healthy_or_stopped(
        process, f"http://127.0.0.1:{port}/health", timeout=SIMULATOR_START_TIMEOUT
    )


def wait_until_healthy(
    process: subprocess.Popen[Any], url: str, *, timeout: float, interval: float = 0.1
) -> bool:
    """Poll `url` until it answers 200: True; False once `process` exits or time is up."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        if _healthy(url):
            return True
        time.sleep(interval)
    return False


def free_port() -> int:
    """A loopback port nothing listens on now (the system's pick)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """Whether a server could listen on `host`:`port` now.

    The probe sets SO_REUSEADDR as the servers themselves do (uvicorn, aiohttp, Tornado):
    a port whose last connections still linger in TIME_WAIT after a stop is free, and
    only a socket that listens there makes it taken.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def gateway_port_problem(host: str, port: int) -> str | None:
    """Why the gateway could not listen on `host`:`port`, naming the setting to change;
    None when it can. Checked before anything starts or is announced."""
    if port_is_free(port, host):
        return None
    return (
        f"port {port} on {host} is in use, so the gateway cannot listen there; "
        "set TT_PORT (or --port) to another one, or stop what listens there"
    )


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 - loopback URL
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False
