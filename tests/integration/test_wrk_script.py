"""The original README's wrk command runs as written against a live gateway."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.integration.live_servers import LiveGateway

SCRIPT = Path(__file__).parents[2] / "scripts" / "wrk_chat.lua"


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk not installed (Debian package 'wrk')")
def test_the_wrk_script_sends_chat_turns_the_gateway_stores(
    gateway: LiveGateway, admin: httpx.Client
) -> None:
    before = admin.get("/api/sessions").json()["total"]
    done = subprocess.run(
        ["wrk", "-t1", "-c2", "-d2s", "-s", str(SCRIPT), f"{gateway.base_url}/api/chat"],
        env={**os.environ, "TT_KEY": gateway.admin_key},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    assert "HTTP" not in done.stderr  # every answer was a 200
    sent = int(re.search(r"(\d+) requests in", done.stdout).group(1))  # type: ignore[union-attr]
    assert sent > 0
    assert admin.get("/api/sessions").json()["total"] >= before + sent


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk not installed (Debian package 'wrk')")
def test_the_wrk_script_refuses_to_run_without_a_key(gateway: LiveGateway) -> None:
    environment = {k: v for k, v in os.environ.items() if k != "TT_KEY"}
    done = subprocess.run(
        ["wrk", "-t1", "-c1", "-d1s", "-s", str(SCRIPT), f"{gateway.base_url}/api/chat"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    assert "set TT_KEY" in done.stderr
