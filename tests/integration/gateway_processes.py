"""Gateways as real processes (`thinkingthoughts serve`), as replicas run in production."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

import httpx

from thinkingthoughts.launcher import free_port, wait_until_healthy

START_TIMEOUT = 60.0
CLEARED_VARIABLES = ("LLM_BASE_URL", "VLLM_API_BASE_URL", "DATABASE_URL", "REDIS_URL")


def wait_until_ready(base_url: str, process: subprocess.Popen[str]) -> None:
    wait_until_answering(base_url + "/health/ready", process, "the gateway")


def wait_until_answering(
    url: str, process: subprocess.Popen[str] | subprocess.Popen[bytes], what: str
) -> None:
    """Poll `url` until it answers 200; fail if `process` exits or takes too long."""
    if not wait_until_healthy(process, url, timeout=START_TIMEOUT, interval=0.2):
        assert process.poll() is None, f"{what} exited during start"
        raise AssertionError(f"{what} did not become ready")


class GatewayProcess:
    """One `thinkingthoughts serve` process; its output (stdout and stderr) goes to a file
    so tests can read everything it logged."""

    def __init__(self, workdir: Path, variables: Mapping[str, str], *, workers: int = 1) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.log_file = workdir / "gateway.log"
        workdir.mkdir(parents=True, exist_ok=True)
        environment = {k: v for k, v in os.environ.items() if k not in CLEARED_VARIABLES}
        environment |= {"TT_DATA_DIR": str(workdir / "data"), **variables}
        self._log = self.log_file.open("w")
        command = [sys.executable, "-m", "thinkingthoughts", "serve", "--port", str(self.port)]
        self.process = subprocess.Popen(
            [*command, "--workers", str(workers)],
            cwd=workdir,
            env=environment,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            wait_until_ready(self.base_url, self.process)
        except BaseException:
            self.stop()
            raise

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def admin_key(self) -> str | None:
        """The admin key this process created at first start, if it was the first."""
        path = self.workdir / "data" / "admin.key"
        return path.read_text().strip() if path.exists() else None

    def client(self, key: str | None = None) -> httpx.Client:
        headers = {"x-api-key": key} if key else {}
        return httpx.Client(base_url=self.base_url, headers=headers, timeout=30)

    def stop(self) -> str:
        """Stop the process (SIGTERM) and return everything it wrote."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()
        return self.log_file.read_text()

    def __enter__(self) -> GatewayProcess:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
