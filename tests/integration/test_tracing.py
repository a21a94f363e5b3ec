"""Traces (the `otel` extra): one trace per turn, with the request's span, its database
transactions and the upstream call under it; the upstream is sent the trace's context."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tests.integration.live_servers import ThreadedGateway, ThreadedSimulator
from thinkingthoughts.observability.tracing import Tracing, start_tracing, tracing_wanted
from thinkingthoughts.settings import Settings


@pytest.fixture
def traced(
    tmp_path: Path, database_url: str, simulator: ThreadedSimulator
) -> Iterator[tuple[ThreadedGateway, InMemorySpanExporter]]:
    exporter = InMemorySpanExporter()
    settings = Settings(
        _env_file=None,
        data_dir=tmp_path / "data",
        database_url=database_url,
        llm_base_url=simulator.base_url,
    )
    server = ThreadedGateway(
        settings, announce=lambda _: None, tracing=Tracing.exporting_to(exporter, batch=False)
    )
    server.start()
    try:
        yield server, exporter
    finally:
        server.stop()


def test_a_turn_is_one_trace_with_database_and_upstream_spans(
    traced: tuple[ThreadedGateway, InMemorySpanExporter], simulator: ThreadedSimulator
) -> None:
    server, exporter = traced
    key = server.settings.admin_key_file.read_text().strip()
    with server.client(key) as client:
        assert client.get("/health").status_code == 200  # not traced
        exporter.clear()
        assert client.post("/api/chat", json={"message": "hello"}).status_code == 200

    spans = exporter.get_finished_spans()
    request = next(s for s in spans if s.name == "POST /api/chat")
    trace_id = request.context.trace_id
    assert {s.context.trace_id for s in spans} == {trace_id}
    names = [s.name for s in spans]
    assert names.count("db.transaction") >= 2  # the user's message, then the reply
    upstream = [s for s in spans if s.name == "POST" and s.kind.name == "CLIENT"]
    assert upstream, names
    assert not any("/health" in s.name for s in spans)
    # The simulator received the trace context, as vLLM would to join the trace.
    traceparent = simulator.recorded_traceparents()[-1]
    assert traceparent is not None
    assert traceparent.split("-")[1] == f"{trace_id:032x}"


@pytest.mark.parametrize(
    ("variables", "wanted"),
    [
        ({}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, True),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, True),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_SDK_DISABLED": "true"}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_TRACES_EXPORTER": "none"}, False),
    ],
)
def test_tracing_follows_the_standard_variables(
    monkeypatch: pytest.MonkeyPatch, variables: dict[str, str], wanted: bool
) -> None:
    for name in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    settings = Settings(_env_file=None)
    assert tracing_wanted(settings) is wanted
    tracing = start_tracing(settings)
    assert (tracing is not None) is wanted
    if tracing is not None:
        tracing.shutdown()
