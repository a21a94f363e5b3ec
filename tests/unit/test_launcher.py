"""Pure choices of the launcher."""

from __future__ import annotations

import pytest

from thinkingthoughts.launcher import ui_gateway_url
from thinkingthoughts.settings import Settings


def test_the_ui_talks_to_the_named_gateway_else_the_configured_one_else_the_local_one() -> None:
    local = Settings(_env_file=None, host="0.0.0.0", port=8123)
    configured = Settings(_env_file=None, ui_backend_api_url="http://gw:8001")

    assert ui_gateway_url(local, None) == "http://127.0.0.1:8123"
    assert ui_gateway_url(configured, None) == "http://gw:8001"
    assert ui_gateway_url(configured, "http://other:9") == "http://other:9"


def test_the_configured_gateway_comes_from_the_pages_own_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("STREAMLIT_BACKEND_API_URL", "http://from-env:8001")
    assert ui_gateway_url(Settings(_env_file=None), None) == "http://from-env:8001"
