from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.live_servers import LiveGateway, ThreadedGateway, ThreadedSimulator
from thinkingthoughts.settings import Settings
from thinkingthoughts.simulator.config import SimulatorConfig

SimulatorFactory = Callable[..., ThreadedSimulator]
GatewayFactory = Callable[..., LiveGateway]


@pytest.fixture
def simulator_factory() -> Iterator[SimulatorFactory]:
    started: list[ThreadedSimulator] = []

    def start(**config: Any) -> ThreadedSimulator:
        simulator = ThreadedSimulator(SimulatorConfig(**config))
        simulator.start()
        started.append(simulator)
        return simulator

    yield start
    for simulator in started:
        simulator.stop()


@pytest.fixture
def simulator(simulator_factory: SimulatorFactory) -> ThreadedSimulator:
    return simulator_factory()


@pytest.fixture
def gateway_factory(
    tmp_path: Path, database_url: str, simulator: ThreadedSimulator
) -> Iterator[GatewayFactory]:
    started: list[ThreadedGateway] = []

    def start(*, upstream: ThreadedSimulator | None = None, **overrides: Any) -> LiveGateway:
        values: dict[str, Any] = {
            "data_dir": tmp_path / "data",
            "database_url": database_url,
            "llm_base_url": (upstream or simulator).base_url,
            **overrides,
        }
        settings = Settings(_env_file=None, **values)
        announcements: list[str] = []
        server = ThreadedGateway(settings, announce=announcements.append)
        server.start()
        started.append(server)
        key_file = settings.admin_key_file
        return LiveGateway(
            server=server,
            admin_key=key_file.read_text().strip(),
            announcements=announcements,
        )

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def gateway(gateway_factory: GatewayFactory) -> LiveGateway:
    return gateway_factory()


@pytest.fixture
def admin(gateway: LiveGateway) -> Iterator[httpx.Client]:
    with gateway.client(gateway.admin_key) as client:
        yield client
