"""A PostgreSQL server of a test's own, on a spare port, that the test may stop, start,
freeze (SIGSTOP) and thaw (SIGCONT) to see what the gateway does when its database goes.

Built with the server binaries of the machine (`initdb`, `pg_ctl`). As root they run as
the `postgres` user, who is given the server's directory. Without the binaries the test
is skipped, unless CI is set: then it fails, so a pipeline never passes by skipping.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from thinkingthoughts.launcher import free_port

BINARY_GLOB = "/usr/lib/postgresql/*/bin"
SERVER_USER = "postgres"
COMMAND_TIMEOUT = 60.0


def server_binaries() -> Path | None:
    """The directory holding `initdb` and `pg_ctl` (the newest version), or None."""
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).parent
    candidates = sorted(glob.glob(BINARY_GLOB), key=lambda p: int(Path(p).parent.name))
    return Path(candidates[-1]) if candidates else None


def _as_server_user() -> list[str]:
    # PostgreSQL refuses to run as root.
    return ["runuser", "-u", SERVER_USER, "--"] if os.geteuid() == 0 else []


class PrivatePostgres:
    """One PostgreSQL cluster in `directory`, listening on 127.0.0.1:`port` (trust auth)."""

    def __init__(self, binaries: Path, directory: Path) -> None:
        self._binaries = binaries
        self.directory = directory
        self.data = directory / "data"
        self.port = free_port()
        directory.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            account = pwd.getpwnam(SERVER_USER)
            os.chown(directory, account.pw_uid, account.pw_gid)
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", SERVER_USER, "--no-sync")

    @property
    def url(self) -> str:
        """The asyncpg URL of the cluster's `postgres` database."""
        return f"postgresql+asyncpg://{SERVER_USER}@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        options = f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l",
                  str(self.directory / "server.log"), "-w", "start")  # fmt: skip

    def stop(self) -> None:
        """Stop at once, closing every connection (as a crashed or killed server would)."""
        self.thaw()
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def freeze(self) -> None:
        """SIGSTOP the server and its backends: connections stay open, nothing answers."""
        for pid in self._processes():
            os.kill(pid, signal.SIGSTOP)

    def thaw(self) -> None:
        for pid in self._processes():
            os.kill(pid, signal.SIGCONT)

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def _processes(self) -> list[int]:
        pid_file = self.data / "postmaster.pid"
        if not pid_file.exists():
            return []
        postmaster = int(pid_file.read_text().split()[0])
        return [postmaster, *_children_of(postmaster)]

    def _run(self, program: str, *arguments: str) -> None:
        command = [*_as_server_user(), str(self._binaries / program), *arguments]
        subprocess.run(command, check=True, capture_output=True, timeout=COMMAND_TIMEOUT)


def _children_of(parent: int) -> list[int]:
    children = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name may hold spaces and parentheses: fields follow the last ')'.
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == parent:
            children.append(int(entry.name))
    return children


@contextmanager
def private_postgres() -> Iterator[PrivatePostgres]:
    """A started PostgreSQL server of the caller's own, stopped and removed afterwards.

    Skips the test when the server binaries are missing, or fails it when CI is set.
    """
    binaries = server_binaries()
    if binaries is None:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail("CI is set but no PostgreSQL server binaries (initdb, pg_ctl) were found")
        pytest.skip("no PostgreSQL server binaries (initdb, pg_ctl) to start a private server")
    # Not under pytest's own temporary directory: only root may enter that one.
    directory = Path(tempfile.mkdtemp(prefix="tt-postgres-"))
    try:
        server = PrivatePostgres(binaries, directory)
        server.start()
        try:
            yield server
        finally:
            if server.running():
                server.stop()
    finally:
        shutil.rmtree(directory, ignore_errors=True)
