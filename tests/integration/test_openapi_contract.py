"""The published API is a contract: schemathesis, driven by the gateway's own
`/openapi.json`, finds no server error, no undocumented status or content type, no answer
that breaks its schema and no schema-valid request refused, on SQLite and PostgreSQL."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx

from tests.integration.conftest import GatewayFactory

SCHEMATHESIS = Path(sys.executable).with_name("st")
EXAMPLES_PER_OPERATION = 25
SEED = 20261202
"""Fixed, so that a run in CI is the run a developer can repeat."""
RUN_TIMEOUT = 600


def test_schemathesis_finds_nothing(gateway_factory: GatewayFactory, tmp_path: Path) -> None:
    # The fuzzer sends wrong keys on purpose: the brute-force guard would soon refuse all.
    gateway = gateway_factory(api_docs=True, auth_failures_per_minute=0)
    command = [
        str(SCHEMATHESIS),
        "run",
        f"{gateway.base_url}/openapi.json",
        "--header",
        f"x-api-key: {gateway.admin_key}",
        "--checks",
        "all",
        "--max-examples",
        str(EXAMPLES_PER_OPERATION),
        "--seed",
        str(SEED),
        "--workers",
        "1",
        "--generation-database",
        "none",
        "--report-dir",
        str(tmp_path / "report"),
        "--no-color",
    ]
    run = subprocess.run(
        command, capture_output=True, text=True, timeout=RUN_TIMEOUT, cwd=tmp_path, check=False
    )
    assert run.returncode == 0, run.stdout[-20_000:] + run.stderr[-5_000:]
    assert "No issues found" in run.stdout or "passed" in run.stdout, run.stdout[-5_000:]


def test_every_key_checked_operation_documents_the_error_shape(
    gateway_factory: GatewayFactory,
) -> None:
    gateway = gateway_factory(api_docs=True)
    document = httpx.get(f"{gateway.base_url}/openapi.json", timeout=30).json()
    schemes = document["components"]["securitySchemes"]
    assert schemes["ApiKeyHeader"] == {"type": "apiKey", "in": "header", "name": "x-api-key"}
    assert schemes["BearerAuth"] == {"type": "http", "scheme": "bearer"}
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if not operation.get("security"):
                continue
            error = "OpenAIError" if path.startswith("/v1/") else "Error"
            for status in ("401", "403", "429", "503"):
                answer = operation["responses"][status]["content"]["application/json"]
                assert answer["schema"] == {"$ref": f"#/components/schemas/{error}"}, (
                    method,
                    path,
                    status,
                )
            assert "422" not in operation["responses"] or not path.startswith("/v1/")


def test_a_wrong_method_is_told_every_method_the_path_answers(
    gateway_factory: GatewayFactory,
) -> None:
    gateway = gateway_factory()
    with gateway.client(gateway.admin_key) as client:
        response = client.request("OPTIONS", "/api/personas/seline")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"
    assert set(response.headers["allow"].split(", ")) == {"GET", "PUT", "PATCH", "DELETE"}


def test_a_body_that_is_not_text_is_refused_like_malformed_json(
    gateway_factory: GatewayFactory,
) -> None:
    gateway = gateway_factory()
    with gateway.client(gateway.admin_key) as client:
        native = client.post(
            "/api/personas", content=b"\xff\xfe\x1e", headers={"content-type": "application/json"}
        )
        openai = client.post(
            "/v1/chat/completions",
            content=b"\xff\xfe\x1e",
            headers={"content-type": "application/json"},
        )
    assert native.status_code == 422
    assert native.json()["error"] == {
        "type": "invalid_request_error",
        "message": "the request body is not valid JSON",
        "code": "invalid_request",
    }
    assert openai.status_code == 400
    assert openai.json()["error"]["code"] == "invalid_request"


def test_a_path_shadowing_a_template_allows_only_its_own_methods(
    gateway_factory: GatewayFactory,
) -> None:
    gateway = gateway_factory()
    with gateway.client(gateway.admin_key) as client:
        own = client.request("OPTIONS", "/api/keys/me")
        template = client.request("OPTIONS", "/api/keys/k1")
    assert own.status_code == template.status_code == 405
    assert own.headers["allow"] == "GET"
    assert set(template.headers["allow"].split(", ")) == {"PATCH", "DELETE"}
