"""The servers a scenario measures, each in its own process on a free loopback port, and
what they cost: CPU seconds and resident memory of a process and its children (Linux
`/proc`; elsewhere the figures are left out)."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

from thinkingthoughts.launcher import free_port, wait_until_healthy

START_TIMEOUT_SECONDS = 90.0
STOP_TIMEOUT_SECONDS = 15.0
PROC = Path("/proc")
GATEWAY_CLEARED = ("LLM_BASE_URL", "VLLM_API_BASE_URL", "DATABASE_URL", "REDIS_URL")


class ServerProcess:
    """A server started from `command`, ready once `health_path` answers 200."""

    def __init__(
        self,
        name: str,
        command: Sequence[str],
        *,
        port: int,
        health_path: str,
        environment: Mapping[str, str] | None = None,
        log_file: Path | None = None,
        headers: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.name = name
        self.port = port
        self.headers = dict(headers or {})
        """What a client sends to be let in (LiteLLM's master key)."""
        self._log = log_file.open("wb") if log_file else None
        try:
            self.process = subprocess.Popen(  # noqa: S603 - our own interpreter or a named tool
                list(command),
                env=dict(environment) if environment is not None else None,
                stdout=self._log or subprocess.DEVNULL,
                stderr=subprocess.STDOUT,
                cwd=cwd,
            )
        except OSError as exc:
            if self._log is not None:
                self._log.close()
            raise RuntimeError(f"{name} could not start: {exc}") from exc
        try:
            self._wait_until_healthy(health_path)
        except BaseException:
            self.stop()
            raise

    @property
    def root_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _wait_until_healthy(self, path: str) -> None:
        if wait_until_healthy(
            self.process, self.root_url + path, timeout=START_TIMEOUT_SECONDS, interval=0.2
        ):
            return
        if self.process.poll() is not None:
            raise RuntimeError(f"{self.name} exited during start ({self.process.returncode})")
        raise RuntimeError(f"{self.name} did not answer {path} within {START_TIMEOUT_SECONDS} s")

    def cpu_seconds(self) -> float | None:
        return tree_cpu_seconds(self.process.pid)

    def rss_bytes(self) -> int | None:
        return tree_rss_bytes(self.process.pid)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._log is not None:
            self._log.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def start_simulator(
    *, reply_tokens: int, itl: float = 0.0, ttft: float = 0.0, max_model_len: int | None = None
) -> ServerProcess:
    port = free_port()
    command = [
        sys.executable, "-m", "thinkingthoughts", "simulate", "--port", str(port),
        "--reply-tokens", str(reply_tokens), "--itl", str(itl), "--ttft", str(ttft),
    ]  # fmt: skip
    if max_model_len is not None:
        command += ["--max-model-len", str(max_model_len)]
    return ServerProcess("the simulator", command, port=port, health_path="/health")


def gateway_environment(
    workdir: Path, *, upstream_url: str, database_url: str | None
) -> dict[str, str]:
    """The gateway's settings for a bench: its own data folder, quiet logs, the machine's
    other variables; never the database or Redis of the calling shell."""
    variables = {k: v for k, v in os.environ.items() if k not in GATEWAY_CLEARED}
    return variables | {
        "LLM_BASE_URL": upstream_url,
        "TT_DATA_DIR": str(workdir / "data"),
        "TT_LOG_LEVEL": "warning",
        **({"DATABASE_URL": database_url} if database_url else {}),
    }


def start_gateway(
    workdir: Path,
    *,
    upstream_url: str,
    workers: int = 1,
    database_url: str | None = None,
) -> ServerProcess:
    """`thinkingthoughts serve` in its own folder (so no `.env` of the caller applies)."""
    port = free_port()
    command = [sys.executable, "-m", "thinkingthoughts", "serve", "--port", str(port)]
    if workers > 1:
        command += ["--workers", str(workers)]
    workdir.mkdir(parents=True, exist_ok=True)
    return ServerProcess(
        "the gateway",
        command,
        port=port,
        health_path="/health/ready",
        environment=gateway_environment(
            workdir, upstream_url=upstream_url, database_url=database_url
        ),
        log_file=workdir / "gateway.log",
        cwd=workdir,
    )


def create_admin_key(workdir: Path, *, upstream_url: str, database_url: str | None) -> str:
    """A key of the bench's own in the gateway's database, made as an operator would."""
    done = subprocess.run(
        [sys.executable, "-m", "thinkingthoughts", "keys", "create", "--name", "bench",
         "--scope", "admin"],
        env=gateway_environment(workdir, upstream_url=upstream_url, database_url=database_url),
        cwd=workdir,
        capture_output=True,
        text=True,
        check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"could not create a key for the bench: {done.stderr.strip()}")
    return done.stdout.strip()


def start_passthrough(*, upstream_url: str) -> ServerProcess:
    port = free_port()
    command = [
        sys.executable, "-m", "thinkingthoughts.bench.passthrough",
        "--port", str(port), "--upstream", upstream_url,
    ]  # fmt: skip
    return ServerProcess("the bare passthrough", command, port=port, health_path="/health")


def litellm_command() -> str | None:
    """The `litellm` proxy's command when it is installed (on PATH or beside Python)."""
    beside = Path(sys.executable).with_name("litellm")
    return str(beside) if beside.exists() else shutil.which("litellm")


def start_litellm(command: str, workdir: Path, *, upstream_url: str, model: str) -> ServerProcess:
    """LiteLLM proxy, one worker, no database, every model name routed to the upstream."""
    port = free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "litellm.yaml"
    config.write_text(
        "model_list:\n"
        f"  - model_name: {model}\n"
        "    litellm_params:\n"
        f"      model: openai/{model}\n"
        f"      api_base: {upstream_url}\n"
        "      api_key: none\n"
        "litellm_settings:\n"
        "  drop_params: true\n"
        "  telemetry: false\n"
    )
    master_key = "sk-bench-" + secrets.token_hex(16)
    environment = {**os.environ, "LITELLM_LOG": "ERROR", "LITELLM_MASTER_KEY": master_key}
    return ServerProcess(
        "LiteLLM proxy",
        [command, "--config", str(config), "--port", str(port), "--num_workers", "1"],
        port=port,
        health_path="/health/liveliness",
        environment=environment,
        log_file=workdir / "litellm.log",
        headers={"authorization": f"Bearer {master_key}"},
    )


def tree_pids(root: int) -> list[int]:
    """`root` and every descendant process, read from /proc (empty where there is none)."""
    if not PROC.is_dir():
        return []
    parents: dict[int, int] = {}
    for entry in PROC.iterdir():
        if entry.name.isdigit():
            fields = _stat_fields(int(entry.name))
            if fields is not None:
                parents[int(entry.name)] = int(fields[1])
    found, frontier = [root], [root]
    while frontier:
        children = [pid for pid, parent in parents.items() if parent in frontier]
        found += children
        frontier = children
    return found


def tree_cpu_seconds(root: int) -> float | None:
    ticks_per_second = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    total = 0
    pids = tree_pids(root)
    for pid in pids:
        fields = _stat_fields(pid)
        if fields is not None:
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks_per_second if pids else None


def tree_rss_bytes(root: int) -> int | None:
    pids = tree_pids(root)
    total = 0
    for pid in pids:
        try:
            status = (PROC / str(pid) / "status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1]) * 1024
    return total if pids else None


def _stat_fields(pid: int) -> list[str] | None:
    """Fields of /proc/PID/stat after the command name (state first)."""
    try:
        text = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    return text[text.rfind(")") + 2 :].split()
