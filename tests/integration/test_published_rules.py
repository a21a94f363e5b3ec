"""The native API and its published document agree, against live gateways: an integer is
what JSON Schema counts as one, a closed model says so, a trait map names the running
catalog's ids, and every pattern is one a JSON Schema validator can keep."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import jsonschema_rs
import pytest
from schemathesis.core.jsonschema.patterns import enforced_pattern

from tests.integration.conftest import GatewayFactory

WARMTH_ONLY_CATALOG = """
locales = ["en"]

[[dimension]]
id = "warmth"
label = { en = "Warmth" }
low = { en = "cool" }
high = { en = "warm" }
levels = { en = ["Be cool.", "Be reserved.", "Be friendly.", "Be warm.", "Be very warm."] }
"""


def published(gateway_url: str) -> dict[str, Any]:
    document: dict[str, Any] = httpx.get(f"{gateway_url}/openapi.json", timeout=30).json()
    return document


def request_schema(document: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    body = document["paths"][path][method]["requestBody"]["content"]["application/json"]
    schema: dict[str, Any] = body["schema"]
    while "$ref" in schema or "anyOf" in schema:
        if "anyOf" in schema:  # an optional body: the model or null
            schema = next(s for s in schema["anyOf"] if s.get("type") != "null")
            continue
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def patterns(fragment: Any) -> list[str]:
    if isinstance(fragment, list):
        return [p for item in fragment for p in patterns(item)]
    if not isinstance(fragment, dict):
        return []
    own = [fragment["pattern"]] if isinstance(fragment.get("pattern"), str) else []
    return own + [p for value in fragment.values() for p in patterns(value)]


def test_a_whole_float_is_an_integer_and_true_or_a_string_is_not(
    gateway_factory: GatewayFactory,
) -> None:
    gateway = gateway_factory()
    with gateway.client(gateway.admin_key) as admin:
        made = admin.post(
            "/api/keys",
            json={"name": "floats", "requests_per_minute": 120.0, "expires_in_days": 30.0},
        )
        assert made.status_code == 201, made.text
        assert made.json()["key"]["requests_per_minute"] == 120
        key_id = made.json()["key"]["id"]
        for value in (True, "120", 2.5, -1.0):
            refused = admin.patch(f"/api/keys/{key_id}", json={"tokens_per_minute": value})
            assert refused.status_code == 422, (value, refused.text)
            assert refused.json()["error"]["code"] == "invalid_request"
        chat = admin.post("/api/chat", json={"message": "hi", "max_tokens": 8.0})
        assert chat.status_code == 200, chat.text
        assert (
            admin.post("/api/chat", json={"message": "hi", "max_tokens": True}).status_code == 422
        )


def test_the_persona_patch_is_published_closed_and_refuses_unknown_fields(
    gateway_factory: GatewayFactory,
) -> None:
    gateway = gateway_factory(api_docs=True)
    schema = request_schema(published(gateway.base_url), "patch", "/api/personas/{ref}")
    assert schema["additionalProperties"] is False
    assert "required" not in schema
    with gateway.client(gateway.admin_key) as admin:
        refused = admin.patch("/api/personas/seline", json={"surprise": {"deep": 1}})
        assert refused.status_code == 422, refused.text
        changed = admin.patch("/api/personas/seline", json={"tone": " calm ", "age": 30.0})
        assert changed.status_code == 200, changed.text
        assert (changed.json()["tone"], changed.json()["age"]) == ("calm", "30")
        assert admin.patch("/api/personas/seline", json={"name": None}).status_code == 422
        assert admin.patch("/api/personas/seline", json={"age": -1}).status_code == 422


def test_trait_maps_name_the_running_catalogs_ids_and_levels(
    gateway_factory: GatewayFactory, tmp_path: Path
) -> None:
    catalog = tmp_path / "traits.toml"
    catalog.write_text(WARMTH_ONLY_CATALOG, encoding="utf-8")
    gateway = gateway_factory(api_docs=True, traits_file=catalog)
    document = published(gateway.base_url)
    maps = [
        request_schema(document, "post", "/api/chat")["properties"]["traits"],
        request_schema(document, "post", "/api/personas")["properties"]["default_traits"],
        request_schema(document, "patch", "/api/personas/{ref}")["properties"]["default_traits"],
        request_schema(document, "post", "/api/personas/{ref}/preview")["properties"]["traits"],
    ]
    for trait_map in maps:
        assert trait_map["propertyNames"]["enum"] == ["warmth"]
        assert trait_map["additionalProperties"] == {"type": "integer", "minimum": 1, "maximum": 5}
    with gateway.client(gateway.admin_key) as admin:
        preview = admin.post("/api/personas/seline/preview", json={"traits": {"warmth": 2.0}})
        assert preview.status_code == 200, preview.text
        assert preview.json()["traits"] == {"warmth": 2}
        unknown = admin.post("/api/personas/seline/preview", json={"traits": {"tone": 2}})
        assert unknown.json()["error"]["code"] == "unknown_trait"


def test_an_empty_history_beside_a_session_is_no_history(gateway_factory: GatewayFactory) -> None:
    gateway = gateway_factory()
    with gateway.client(gateway.admin_key) as admin:
        first = admin.post("/api/chat", json={"message": "hello"})
        assert first.status_code == 200, first.text
        session_id = first.json()["session_id"]
        again = admin.post(
            "/api/chat", json={"message": "again", "session_id": session_id, "history": []}
        )
        assert again.status_code == 200, again.text
        assert again.json()["session_id"] == session_id


@pytest.mark.parametrize("blank", [" ", "\u3000\n", "\u00a0"])
def test_blank_text_the_document_calls_invalid_is_refused(
    gateway_factory: GatewayFactory, blank: str
) -> None:
    gateway = gateway_factory(api_docs=True)
    document = published(gateway.base_url)
    message = request_schema(document, "post", "/api/chat")["properties"]["message"]
    name = request_schema(document, "patch", "/api/personas/{ref}")["properties"]["name"]
    for schema in (message["anyOf"][0], name):
        assert jsonschema_rs.validator_for(schema).is_valid(blank) is False
        assert jsonschema_rs.validator_for(schema).is_valid(f"{blank}x{blank}") is True
    with gateway.client(gateway.admin_key) as admin:
        assert admin.post("/api/chat", json={"message": blank}).status_code == 422
        renamed = admin.patch("/api/personas/seline", json={"name": blank})
        assert renamed.status_code == 422


def test_every_published_pattern_is_one_a_json_schema_validator_keeps(
    gateway_factory: GatewayFactory,
) -> None:
    gateway = gateway_factory(api_docs=True)
    found = patterns(published(gateway.base_url))
    assert found
    assert [p for p in found if enforced_pattern(p) is None] == []
