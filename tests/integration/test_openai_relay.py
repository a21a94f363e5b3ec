"""`/v1/embeddings` and `/v1/completions` relayed to the upstream, driven by the official
`openai` SDK over real HTTP: the same keys, limits, allow-lists, metrics and errors as a
chat, and the upstream's answers as it gave them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
from openai import OpenAI

from tests.integration.conftest import GatewayFactory, SimulatorFactory
from tests.integration.live_servers import LiveGateway, ThreadedSimulator

SIM_MODEL = "thinkingthoughts-sim"
PROMPT = "Once upon a time"


def sdk(base_url: str, key: str) -> OpenAI:
    return OpenAI(base_url=base_url, api_key=key, max_retries=0)


@pytest.fixture
def client(gateway: LiveGateway) -> Iterator[OpenAI]:
    with sdk(gateway.base_url + "/v1", gateway.admin_key) as client:
        yield client


@pytest.fixture
def direct(simulator: ThreadedSimulator) -> Iterator[OpenAI]:
    with sdk(simulator.base_url, "unused") as client:
        yield client


def make_key(gateway: LiveGateway, **fields: Any) -> str:
    with gateway.client(gateway.admin_key) as admin:
        made = admin.post("/api/keys", json={"name": "relay", "scopes": ["chat"], **fields})
    assert made.status_code == 201, made.text
    return str(made.json()["secret"])


def call_with_model(client: OpenAI, route: str, model: str) -> object:
    if route == "embeddings":
        return client.embeddings.create(model=model, input="hi")
    return client.completions.create(model=model, prompt="hi")


def test_embeddings_are_relayed_as_the_upstream_answers(client: OpenAI, direct: OpenAI) -> None:
    relayed = client.embeddings.create(model=SIM_MODEL, input=["a cat", "a dog"])
    upstream = direct.embeddings.create(model=SIM_MODEL, input=["a cat", "a dog"])

    assert [item.embedding for item in relayed.data] == [item.embedding for item in upstream.data]
    assert relayed.model == SIM_MODEL
    assert relayed.usage.prompt_tokens == upstream.usage.prompt_tokens > 0


def test_a_text_completion_is_relayed_whole_and_streamed(client: OpenAI, direct: OpenAI) -> None:
    whole = client.completions.create(model=SIM_MODEL, prompt=PROMPT, max_tokens=5)
    upstream = direct.completions.create(model=SIM_MODEL, prompt=PROMPT, max_tokens=5)
    chunks = list(
        client.completions.create(
            model=SIM_MODEL,
            prompt=PROMPT,
            max_tokens=5,
            stream=True,
            stream_options={"include_usage": True},
        )
    )

    assert whole.object == "text_completion"
    assert whole.choices[0].text == upstream.choices[0].text
    assert whole.choices[0].finish_reason == "length"
    assert "".join(c.choices[0].text for c in chunks if c.choices) == whole.choices[0].text
    assert chunks[-1].usage == whole.usage


def test_a_streamed_completion_without_include_usage_sends_no_usage_chunk(
    client: OpenAI, simulator: ThreadedSimulator
) -> None:
    chunks = list(client.completions.create(model=SIM_MODEL, prompt=PROMPT, stream=True))
    assert chunks
    assert all(chunk.choices and chunk.usage is None for chunk in chunks)
    # The gateway asked for usage all the same, to meter the key.
    assert simulator.recorded_requests()[-1]["stream_options"] == {"include_usage": True}


def test_fields_the_gateway_does_not_know_pass_through(
    client: OpenAI, simulator: ThreadedSimulator
) -> None:
    client.completions.create(
        model=SIM_MODEL, prompt=PROMPT, temperature=0.3, extra_body={"top_k": 7}
    )
    client.embeddings.create(
        model=SIM_MODEL, input="a cat", encoding_format="float", extra_body={"truncate": 8}
    )
    completion_sent, embedding_sent = simulator.recorded_requests()[-2:]
    assert (completion_sent["temperature"], completion_sent["top_k"]) == (0.3, 7)
    assert (embedding_sent["encoding_format"], embedding_sent["truncate"]) == ("float", 8)


@pytest.mark.parametrize("route", ["embeddings", "completions"])
def test_a_persona_model_is_a_clear_400(
    client: OpenAI, simulator: ThreadedSimulator, route: str
) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        call_with_model(client, route, "persona:seline")
    error = caught.value.response.json()["error"]
    assert error["code"] == "model_not_supported"
    assert "/v1/chat/completions" in error["message"]
    assert simulator.recorded_requests() == []


@pytest.mark.parametrize("route", ["embeddings", "completions"])
def test_an_unknown_model_is_a_404_and_a_model_outside_the_allow_list_a_403(
    gateway: LiveGateway, route: str
) -> None:
    narrow = make_key(gateway, allowed_models=["another-model"])
    with (
        sdk(gateway.base_url + "/v1", gateway.admin_key) as admin,
        pytest.raises(openai.NotFoundError) as unknown,
    ):
        call_with_model(admin, route, "no-such-model")
    with (
        sdk(gateway.base_url + "/v1", narrow) as client,
        pytest.raises(openai.PermissionDeniedError) as refused,
    ):
        call_with_model(client, route, SIM_MODEL)
    assert unknown.value.response.json()["error"]["code"] == "model_not_found"
    assert refused.value.response.json()["error"]["code"] == "model_not_allowed"


def test_the_keys_request_and_token_limits_hold(
    gateway: LiveGateway, simulator: ThreadedSimulator
) -> None:
    per_minute = make_key(gateway, requests_per_minute=2)
    tight = make_key(gateway, tokens_per_minute=20)
    with sdk(gateway.base_url + "/v1", per_minute) as client:
        client.embeddings.create(model=SIM_MODEL, input="one")
        client.completions.create(model=SIM_MODEL, prompt="two", max_tokens=2)
        with pytest.raises(openai.RateLimitError):
            client.embeddings.create(model=SIM_MODEL, input="three")
    with sdk(gateway.base_url + "/v1", tight) as client:
        filled = client.embeddings.create(model=SIM_MODEL, input="word " * 30)
        assert filled.usage.prompt_tokens > 20  # charged as the upstream reported it
        sent_before = len(simulator.recorded_requests())
        with pytest.raises(openai.RateLimitError):
            client.completions.create(model=SIM_MODEL, prompt="more", max_tokens=2)
    assert len(simulator.recorded_requests()) == sent_before  # refused before the upstream


def test_reported_usage_is_accounted_to_the_key_and_counted_in_metrics(
    gateway: LiveGateway,
) -> None:
    key = make_key(gateway)
    with sdk(gateway.base_url + "/v1", key) as client:
        embedded = client.embeddings.create(model=SIM_MODEL, input="a cat")
        completed = client.completions.create(model=SIM_MODEL, prompt=PROMPT, max_tokens=4)
    with gateway.client(key) as http:
        report = http.get("/api/keys/me/usage", params={"days": 1}).json()
    assert completed.usage is not None
    assert report["totals"]["prompt_tokens"] == (
        embedded.usage.prompt_tokens + completed.usage.prompt_tokens
    )
    assert report["totals"]["completion_tokens"] == completed.usage.completion_tokens
    scrape = httpx.get(gateway.base_url + "/metrics").text
    assert 'route="/v1/embeddings"' in scrape
    assert 'route="/v1/completions"' in scrape


def test_upstream_failures_raise_the_sdks_exception_classes(
    simulator_factory: SimulatorFactory, gateway_factory: GatewayFactory
) -> None:
    failing = simulator_factory(fail_429_rate=1.0)
    live = gateway_factory(upstream=failing, llm_model=SIM_MODEL, llm_max_model_len=4096)
    with (
        sdk(live.base_url + "/v1", live.admin_key) as client,
        pytest.raises(openai.RateLimitError) as caught,
    ):
        client.completions.create(model=SIM_MODEL, prompt=PROMPT)
    assert int(caught.value.response.headers["retry-after"]) >= 1


def test_a_streamed_completion_holds_one_of_the_keys_concurrent_streams(
    simulator_factory: SimulatorFactory, gateway_factory: GatewayFactory
) -> None:
    slow = simulator_factory(inter_token_latency=0.2, reply_tokens=20)
    live = gateway_factory(upstream=slow)
    single = make_key(live, concurrent_streams=1)
    with sdk(live.base_url + "/v1", single) as client:
        stream = client.completions.create(model=SIM_MODEL, prompt=PROMPT, stream=True)
        first = next(iter(stream))
        assert first.choices[0].text
        with pytest.raises(openai.RateLimitError):
            client.completions.create(model=SIM_MODEL, prompt=PROMPT, stream=True)
        stream.close()
