"""A live stack for the browser tests: simulator, gateway process, chat UI process, and
Debian's chromium driven by Playwright (never a downloaded browser).

Without chromium on the machine these tests skip and the run's summary says so.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.integration.gateway_processes import GatewayProcess, wait_until_answering
from tests.integration.live_servers import ThreadedSimulator
from thinkingthoughts.launcher import free_port, stop_child, ui_command, ui_environment
from thinkingthoughts.settings import Settings
from thinkingthoughts.simulator.config import SimulatorConfig

CHROMIUM_NAMES = ("chromium", "chromium-browser")
ARTIFACTS_VARIABLE = "TT_BROWSER_ARTIFACTS"


def chromium_path() -> str | None:
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


@dataclass
class LiveStack:
    gateway: GatewayProcess
    ui_url: str
    admin_key: str
    artifacts: Path


@pytest.fixture(scope="module")
def live_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveStack]:
    if chromium_path() is None:
        pytest.skip("chromium not installed (Debian package 'chromium')")
    workdir = tmp_path_factory.mktemp("stack")
    # Paced slowly enough (40 tokens over 2 s) for a loaded browser to see the reply grow.
    simulator = ThreadedSimulator(SimulatorConfig(inter_token_latency=0.05, reply_tokens=40))
    simulator.start()
    gateway = GatewayProcess(workdir, {"LLM_BASE_URL": simulator.base_url})
    admin_key = gateway.admin_key()
    assert admin_key is not None
    ui_port = free_port()
    settings = Settings(_env_file=None, data_dir=workdir / "data", ui_port=ui_port)
    ui = subprocess.Popen(
        ui_command(settings, host="127.0.0.1"),
        env=ui_environment(settings, gateway_url=gateway.base_url),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    ui_url = f"http://127.0.0.1:{ui_port}"
    try:
        wait_until_answering(ui_url + "/_stcore/health", ui, "the chat UI")
        artifacts = Path(os.environ.get(ARTIFACTS_VARIABLE, "build/browser-artifacts"))
        artifacts.mkdir(parents=True, exist_ok=True)
        yield LiveStack(gateway=gateway, ui_url=ui_url, admin_key=admin_key, artifacts=artifacts)
    finally:
        stop_child(ui)
        gateway.stop()
        simulator.stop()


STEP_TIMEOUT_MS = 30_000
"""How long one step of a browser test may wait for the page."""


@pytest.fixture(scope="module")
def browser(live_stack: LiveStack) -> Iterator[Browser]:
    """Headless chromium (the system's own), one per test module."""
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium_path(), headless=True)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture(scope="module")
def page(browser: Browser, live_stack: LiveStack) -> Iterator[Page]:
    """One page on the chat UI, kept for the module's steps (they go on from each other)."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    opened = context.new_page()
    opened.set_default_timeout(STEP_TIMEOUT_MS)
    opened.goto(live_stack.ui_url)
    try:
        yield opened
    finally:
        context.close()
