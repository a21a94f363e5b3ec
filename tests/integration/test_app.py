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
