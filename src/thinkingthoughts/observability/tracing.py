"""OpenTelemetry traces, with the `otel` extra: a span for each request (FastAPI), each
database transaction, and each upstream call (aiohttp, whose `traceparent` header lets
vLLM join the trace). Exported over OTLP, configured by the standard OTEL_* variables
(OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES...).

Without the extra, or with no endpoint set, nothing here is imported and a span costs
one no-op context manager."""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING, Any

from thinkingthoughts.settings import Settings

if TYPE_CHECKING:
    from fastapi import FastAPI
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter

logger = logging.getLogger(__name__)

SpanStarter = Callable[[str], AbstractContextManager[Any]]
DEFAULT_SERVICE_NAME = "thinkingthoughts-gateway"
UNTRACED_ROUTES = "/health$,/health/ready$,/metrics$"
"""Probes and scrapes: frequent, and of no interest in a trace."""


def no_span(_name: str) -> AbstractContextManager[None]:
    return nullcontext()


def tracing_wanted(settings: Settings) -> bool:
    """An OTLP endpoint is set, and neither the SDK nor the traces exporter is switched off."""
    switched_off = settings.otel_sdk_disabled or settings.otel_traces_exporter == "none"
    return traces_endpoint(settings) is not None and not switched_off


class Tracing:
    """One tracer provider for the process, and the hooks that put its spans in place."""

    def __init__(self, provider: TracerProvider) -> None:
        self.provider = provider
        self._tracer = provider.get_tracer("thinkingthoughts")

    @classmethod
    def exporting_to(cls, exporter: SpanExporter, *, batch: bool = True) -> Tracing:
        from opentelemetry.sdk.resources import SERVICE_NAME, Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

        # OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES override the default name.
        resource = Resource({SERVICE_NAME: DEFAULT_SERVICE_NAME}).merge(Resource.create())
        provider = TracerProvider(resource=resource)
        processor = BatchSpanProcessor(exporter) if batch else SimpleSpanProcessor(exporter)
        provider.add_span_processor(processor)
        return cls(provider)

    def span(self, name: str) -> AbstractContextManager[Any]:
        return self._tracer.start_as_current_span(name)

    def instrument_app(self, app: FastAPI) -> None:
        from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

        FastAPIInstrumentor.instrument_app(
            app, tracer_provider=self.provider, excluded_urls=UNTRACED_ROUTES
        )

    def upstream_trace_configs(self) -> list[Any]:
        from opentelemetry.instrumentation.aiohttp_client import create_trace_config

        return [create_trace_config(tracer_provider=self.provider)]

    def shutdown(self) -> None:
        """Send what is left and stop the exporter."""
        self.provider.shutdown()


def start_tracing(settings: Settings) -> Tracing | None:
    """Tracing to the configured OTLP endpoint, or None (not configured, or the `otel`
    extra is missing: said once in the log)."""
    if not tracing_wanted(settings):
        return None
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    except ImportError:
        logger.warning(
            "OTEL_EXPORTER_OTLP_ENDPOINT is set but tracing is not installed: "
            "pip install 'thinkingthoughts[otel]'"
        )
        return None
    # Passed on, not left to the exporter: a value from `.env` is not in its environment.
    return Tracing.exporting_to(OTLPSpanExporter(endpoint=traces_endpoint(settings)))


def traces_endpoint(settings: Settings) -> str | None:
    """OTLP/HTTP's traces URL: the traces endpoint as given, or `/v1/traces` under the
    general one (as the OpenTelemetry specification derives it)."""
    if settings.otel_exporter_otlp_traces_endpoint:
        return settings.otel_exporter_otlp_traces_endpoint
    if settings.otel_exporter_otlp_endpoint:
        return settings.otel_exporter_otlp_endpoint.rstrip("/") + "/v1/traces"
    return None
