"""`X-Request-ID`: kept when sensible, made up otherwise, returned on every answer
(errors included) and sent on to the inference server with the turn."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from tests.integration.gateway_processes import GatewayProcess
from tests.integration.live_servers import LiveGateway, ThreadedSimulator
from tests.integration.test_replicas import assert_shown_only_in_the_first_start_banner


def test_a_callers_id_comes_back_and_reaches_the_upstream(
    admin: httpx.Client, simulator: ThreadedSimulator
) -> None:
    response = admin.post(
        "/api/chat", json={"message": "hello"}, headers={"X-Request-ID": "edge-7f3a"}
    )

    assert response.status_code == 200
    assert response.headers["x-request-id"] == "edge-7f3a"
    assert simulator.recorded_request_ids()[-1] == "edge-7f3a"


def test_without_an_id_each_request_gets_its_own(
    admin: httpx.Client, simulator: ThreadedSimulator
) -> None:
    first = admin.post("/api/chat", json={"message": "one"})
    second = admin.post("/api/chat", json={"message": "two"})

    ids = [first.headers["x-request-id"], second.headers["x-request-id"]]
    assert ids[0] != ids[1]
    assert simulator.recorded_request_ids()[-2:] == ids


def test_a_malformed_id_is_replaced_not_echoed(gateway: LiveGateway) -> None:
    with gateway.client() as anonymous:
        response = anonymous.get("/api/personas", headers={"X-Request-ID": "bad id; drop"})

    assert response.status_code == 401  # errors carry the id too
    assert response.headers["x-request-id"] != "bad id; drop"
    assert len(response.headers["x-request-id"]) == 32


def test_json_logs_join_up_by_request_id_and_hold_no_message_or_key(
    tmp_path: Path, simulator: ThreadedSimulator
) -> None:
    variables = {"LLM_BASE_URL": simulator.base_url, "TT_LOG_FORMAT": "json"}
    secret_words = "my-private-words-9d1c"
    with GatewayProcess(tmp_path, variables) as gateway:
        key = gateway.admin_key()
        assert key is not None
        with gateway.client(key) as admin:
            answered = admin.post("/api/chat", json={"message": secret_words})
        logs = gateway.stop()

    assert answered.status_code == 200
    request_id = answered.headers["x-request-id"]
    entries = [json.loads(line) for line in logs.splitlines() if line.startswith("{")]
    access = [e for e in entries if e.get("request_id") == request_id]
    assert [(e["method"], e["route"], e["status"]) for e in access] == [("POST", "/api/chat", 200)]
    assert access[0]["duration_ms"] > 0
    assert secret_words not in logs
    assert_shown_only_in_the_first_start_banner(key, logs)
