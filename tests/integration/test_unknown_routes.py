"""A path no route answers is named in the 404, native and on `/v1`, as OpenAI names it."""

from __future__ import annotations

import openai
import pytest
from openai import OpenAI

from tests.integration.live_servers import LiveGateway


def test_the_official_sdk_hears_invalid_url_for_a_route_the_gateway_lacks(
    gateway: LiveGateway,
) -> None:
    with (
        OpenAI(base_url=gateway.base_url + "/v1", api_key=gateway.admin_key, max_retries=0) as sdk,
        pytest.raises(openai.NotFoundError) as caught,
    ):
        sdk.post("/no-such-route", cast_to=object, body={"model": "persona:seline"})
    error = caught.value.response.json()["error"]
    assert error == {
        "message": "Invalid URL (POST /v1/no-such-route)",
        "type": "invalid_request_error",
        "param": None,
        "code": "unknown_url",
    }


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/v1/threads/x/y"), ("GET", "/v1/"), ("DELETE", "/api/nothing"), ("GET", "/api")],
)
def test_an_unknown_route_is_a_404_naming_its_method_and_path(
    gateway: LiveGateway, method: str, path: str
) -> None:
    with gateway.client(gateway.admin_key) as client:
        answer = client.request(method, path)
    assert answer.status_code == 404
    error = answer.json()["error"]
    assert error["message"] == f"Invalid URL ({method} {path})"
    assert error["code"] == "unknown_url"
    assert ("param" in error) == path.startswith("/v1")


def test_a_method_a_route_does_not_answer_is_named_in_the_405(gateway: LiveGateway) -> None:
    with gateway.client(gateway.admin_key) as client:
        answer = client.get("/v1/chat/completions")
    assert answer.status_code == 405
    assert answer.json()["error"]["message"] == "Method not allowed (GET /v1/chat/completions)"
