"""`serve --workers 2`: every worker answers /metrics for both (multiprocess mode), so a
scrape counts each request once, whichever worker served it and whichever is scraped."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.integration.gateway_processes import GatewayProcess
from tests.integration.live_servers import ThreadedSimulator
from tests.integration.test_metrics import Samples, moved, scrape, value

REQUESTS = 40
SCRAPES = 6


def scrape_on_a_new_connection(gateway: GatewayProcess) -> Samples:
    with gateway.client() as client:
        return scrape(client)


def test_every_worker_reports_the_requests_of_both(
    tmp_path: Path, simulator: ThreadedSimulator
) -> None:
    with GatewayProcess(tmp_path, {"LLM_BASE_URL": simulator.base_url}, workers=2) as gateway:
        key = gateway.admin_key()
        assert key is not None
        before = scrape_on_a_new_connection(gateway)

        def call(_: int) -> int:
            with gateway.client(key) as client:  # a new connection: either worker takes it
                return client.get("/api/personas").status_code

        with ThreadPoolExecutor(max_workers=8) as pool:
            statuses = list(pool.map(call, range(REQUESTS)))
        scrapes = [scrape_on_a_new_connection(gateway) for _ in range(SCRAPES)]

    assert statuses == [200] * REQUESTS
    personas = {"route": "/api/personas", "method": "GET"}
    for after in scrapes:
        assert moved(before, after, "tt_http_requests_total", **personas, status="200") == REQUESTS
        assert moved(before, after, "tt_http_request_duration_seconds_count", **personas) == (
            REQUESTS
        )
        assert value(after, "tt_active_streams") == 0
