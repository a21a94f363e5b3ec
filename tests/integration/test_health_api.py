"""Liveness and readiness need no key; readiness checks what the gateway depends on."""

from __future__ import annotations

import httpx
import pytest

from tests.integration.conftest import GatewayFactory, SimulatorFactory
from tests.integration.live_servers import LiveGateway


def test_liveness_is_open(gateway: LiveGateway) -> None:
    response = httpx.get(gateway.base_url + "/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readiness_reports_database_and_upstream(gateway: LiveGateway) -> None:
    response = httpx.get(gateway.base_url + "/health/ready")
    assert response.status_code == 200
    assert response.json()["checks"] == {"database": "ok", "upstream": "ok"}


def test_readiness_fails_when_the_upstream_is_down(
    simulator_factory: SimulatorFactory, gateway_factory: GatewayFactory
) -> None:
    doomed = simulator_factory()
    live = gateway_factory(upstream=doomed)
    doomed.stop()
    response = httpx.get(live.base_url + "/health/ready", timeout=30)
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["upstream"].startswith("error")


@pytest.mark.redis
def test_readiness_includes_redis_when_configured(
    gateway_factory: GatewayFactory, redis_url: str
) -> None:
    live = gateway_factory(redis_url=redis_url)
    response = httpx.get(live.base_url + "/health/ready")
    assert response.status_code == 200
    assert response.json()["checks"]["redis"] == "ok"


def test_readiness_fails_when_redis_is_unreachable(gateway_factory: GatewayFactory) -> None:
    live = gateway_factory(redis_url="redis://127.0.0.1:1/0")
    response = httpx.get(live.base_url + "/health/ready", timeout=30)
    assert response.status_code == 503
    assert response.json()["checks"]["redis"].startswith("error")
