"""`/v1/chat/completions` and its published schema agree, against live gateways: a body the
document calls valid is accepted and one it calls invalid is refused with a 400 (messages
by role, integers as JSON Schema counts them, bounded numbers, trait maps)."""

from __future__ import annotations

from typing import Any

import httpx
import jsonschema_rs
import pytest

from tests.integration.conftest import GatewayFactory
from tests.integration.live_servers import LiveGateway, ThreadedSimulator

PERSONA = "persona:seline"
HELLO = {"role": "user", "content": "hi"}
CALL = {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}


def chat_request_validator(document: dict[str, Any]) -> jsonschema_rs.Validator:
    """The published body schema of `POST /v1/chat/completions`, with the document's
    components for its references."""
    body = document["paths"]["/v1/chat/completions"]["post"]["requestBody"]
    schema = body["content"]["application/json"]["schema"]
    return jsonschema_rs.validator_for({**schema, "components": document["components"]})


@pytest.fixture
def docs_gateway(gateway_factory: GatewayFactory) -> LiveGateway:
    return gateway_factory(api_docs=True)


@pytest.fixture
def validator(docs_gateway: LiveGateway) -> jsonschema_rs.Validator:
    document = httpx.get(f"{docs_gateway.base_url}/openapi.json", timeout=30).json()
    return chat_request_validator(document)


def chat(gateway: LiveGateway, body: dict[str, Any]) -> httpx.Response:
    with gateway.client(gateway.admin_key) as client:
        return client.post("/v1/chat/completions", json=body)


def assert_document_and_gateway_agree(
    gateway: LiveGateway, validator: jsonschema_rs.Validator, body: dict[str, Any], valid: bool
) -> None:
    assert validator.is_valid(body) is valid, body
    response = chat(gateway, body)
    if valid:
        assert response.status_code == 200, (body, response.text)
    else:
        assert response.status_code == 400, (body, response.text)
        assert response.json()["error"]["type"] == "invalid_request_error"


MESSAGES_BY_ROLE = [
    ([{"role": "tool"}], False),
    ([HELLO, {"role": "tool", "content": None, "tool_call_id": "call_1"}], False),
    ([HELLO, {"role": "assistant", "tool_calls": [CALL]},
      {"role": "tool", "content": "sunny", "tool_call_id": "call_1"}], True),
    ([HELLO, {"role": "assistant", "content": None, "tool_calls": []}], False),
    ([HELLO, {"role": "assistant"}], False),
    ([HELLO, {"role": "assistant", "function_call": {"name": "f", "arguments": "{}"}},
      {"role": "function", "name": "f", "content": "sunny"}], True),
    ([HELLO, {"role": "function", "content": "sunny"}], False),
    ([{"role": "user", "content": [{"type": "text"}]}], False),
    ([{"role": "user", "content": [{"type": "text", "text": "hi"}]}], True),
    ([{"role": "developer", "content": "be brief"}, HELLO], True),
]  # fmt: skip
"""Messages, and whether OpenAI's rules (content by role, a function's name, a text part's
text) make them valid."""


@pytest.mark.parametrize(("messages", "valid"), MESSAGES_BY_ROLE)
def test_messages_the_document_calls_valid_are_accepted_and_the_others_refused(
    docs_gateway: LiveGateway,
    validator: jsonschema_rs.Validator,
    messages: list[dict[str, Any]],
    valid: bool,
) -> None:
    body = {"model": PERSONA, "messages": messages}
    assert_document_and_gateway_agree(docs_gateway, validator, body, valid)


NUMBERS = [
    ({"max_tokens": 2.0, "max_completion_tokens": 3.0, "top_logprobs": 1.0, "n": 1.0}, True),
    ({"max_tokens": True}, False),
    ({"max_tokens": 2.5}, False),
    ({"n": 2}, False),
    ({"temperature": 2, "top_p": 1, "presence_penalty": -2, "frequency_penalty": 2.0}, True),
    ({"temperature": 2.5}, False),
    ({"top_p": 1.01}, False),
    ({"presence_penalty": -2.5}, False),
    ({"logit_bias": {"50256": -100, "15": 100.0}}, True),
    ({"logit_bias": {"50256": -101}}, False),
    ({"seed": -(2**63)}, True),
    ({"seed": -(2**63) - 191}, False),
]
"""Numeric fields, and whether they are within what the gateway (and OpenAI) accepts."""


@pytest.mark.parametrize(("fields", "valid"), NUMBERS)
def test_numbers_the_document_calls_valid_are_accepted_and_the_others_refused(
    docs_gateway: LiveGateway,
    validator: jsonschema_rs.Validator,
    fields: dict[str, Any],
    valid: bool,
) -> None:
    body = {"model": PERSONA, "messages": [HELLO], **fields}
    assert_document_and_gateway_agree(docs_gateway, validator, body, valid)


def test_whole_floats_reach_the_upstream_as_integers(
    docs_gateway: LiveGateway, simulator: ThreadedSimulator
) -> None:
    body = {"model": PERSONA, "messages": [HELLO], "max_tokens": 8.0, "top_logprobs": 2.0}
    assert chat(docs_gateway, body).status_code == 200
    sent = simulator.recorded_requests()[-1]
    assert (sent["max_tokens"], sent["top_logprobs"]) == (8, 2)
    assert isinstance(sent["max_tokens"], int)


TRAITS = [
    ({"model": PERSONA, "traits": {"tone": 2.0}}, True),
    ({"model": PERSONA, "traits": {"tone": 6}}, False),
    ({"model": PERSONA, "traits": {"warmth-that-is-not-a-trait": 2}}, False),
    ({"model": "thinkingthoughts-sim", "traits": {"tone": 2}}, False),
    ({"model": "thinkingthoughts-sim", "traits": {}}, True),
    ({"model": "thinkingthoughts-sim", "traits": None}, True),
]
"""Trait maps: the catalog's ids and levels 1 to 5, for persona models only."""


@pytest.mark.parametrize(("fields", "valid"), TRAITS)
def test_trait_maps_the_document_calls_valid_are_accepted_and_the_others_refused(
    docs_gateway: LiveGateway,
    validator: jsonschema_rs.Validator,
    fields: dict[str, Any],
    valid: bool,
) -> None:
    body = {"messages": [HELLO], **fields}
    assert_document_and_gateway_agree(docs_gateway, validator, body, valid)


def test_a_text_completions_token_count_may_be_a_whole_float(docs_gateway: LiveGateway) -> None:
    with docs_gateway.client(docs_gateway.admin_key) as client:
        response = client.post(
            "/v1/completions",
            json={"model": "thinkingthoughts-sim", "prompt": "Once", "max_tokens": 4.0},
        )
    assert response.status_code == 200, response.text
