"""How the application is put together: what it serves besides the API."""

from __future__ import annotations

from tests.integration.conftest import GatewayFactory
from tests.integration.test_chat_errors import assert_error


def test_the_api_schema_is_not_served_unless_asked_for(
    gateway_factory: GatewayFactory,
) -> None:
    live = gateway_factory()
    with live.client() as anonymous:
        for path in ("/openapi.json", "/docs", "/redoc"):
            assert_error(anonymous.get(path), 404)


def test_api_docs_can_be_turned_on(gateway_factory: GatewayFactory) -> None:
    live = gateway_factory(api_docs=True)
    with live.client() as anonymous:
        schema = anonymous.get("/openapi.json").json()
    assert "/api/chat" in schema["paths"]


def test_cors_answers_allowed_origins_only(gateway_factory: GatewayFactory) -> None:
    live = gateway_factory(cors_origins=["https://app.example"])
    preflight = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "x-api-key, content-type",
    }
    with live.client() as browser:
        allowed = browser.options(
            "/api/chat", headers={"Origin": "https://app.example", **preflight}
        )
        refused = browser.options(
            "/api/chat", headers={"Origin": "https://evil.example", **preflight}
        )
        simple = browser.get("/health", headers={"Origin": "https://app.example"})
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "https://app.example"
    assert "x-api-key" in allowed.headers["access-control-allow-headers"].lower()
    assert "access-control-allow-credentials" not in allowed.headers
    assert refused.status_code == 400
    assert "access-control-allow-origin" not in refused.headers
    assert "x-session-id" in simple.headers["access-control-expose-headers"].lower()


def test_no_cors_headers_unless_origins_are_configured(gateway_factory: GatewayFactory) -> None:
    live = gateway_factory()
    with live.client() as browser:
        response = browser.get("/health", headers={"Origin": "https://app.example"})
    assert "access-control-allow-origin" not in response.headers
