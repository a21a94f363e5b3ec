"""Which upstream model the gateway talks to, and how long its context is.

Discovery (`LLM_MODEL` or its context length unset) asks the upstream's `/v1/models`.
It never makes requests wait on one another: concurrent callers share the one probe in
flight (single flight), and a probe that failed is remembered for
`FAILED_PROBE_MEMORY_SECONDS`, so that a hung upstream costs one probe timeout per period,
not one per waiting request.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

from thinkingthoughts.errors import GatewayError, NotFoundError, UpstreamError
from thinkingthoughts.upstream.client import UpstreamClient

DEFAULT_MAX_MODEL_LEN = 8192
"""Assumed when neither the settings nor the upstream say; an overflow still maps to 413."""

FAILED_PROBE_MEMORY_SECONDS = 5.0
"""How long a failed discovery answers for itself before the upstream is asked again."""

Clock = Callable[[], float]


def model_not_found(model: str) -> NotFoundError:
    return NotFoundError(
        f"The model `{model}` does not exist.", code="model_not_found", param="model"
    )


@dataclass(frozen=True, slots=True)
class ResolvedModel:
    name: str
    max_model_len: int


class ModelResolver:
    """Settings first, then the upstream's `/v1/models`; a success is remembered for
    good, a failure (or a fallback taken because of one) for `failure_memory` seconds."""

    def __init__(
        self,
        client: UpstreamClient,
        *,
        configured_model: str | None,
        configured_max_model_len: int | None,
        failure_memory: float = FAILED_PROBE_MEMORY_SECONDS,
        clock: Clock = time.monotonic,
    ) -> None:
        self._client = client
        self._configured_model = configured_model
        self._configured_max_len = configured_max_model_len
        self._failure_memory = failure_memory
        self._clock = clock
        self._resolved: ResolvedModel | None = None
        self._probe: asyncio.Task[ResolvedModel] | None = None
        self._fallback: tuple[float, ResolvedModel] | None = None
        self._failure: tuple[float, GatewayError] | None = None

    @property
    def resolved(self) -> ResolvedModel | None:
        return self._resolved

    async def close(self) -> None:
        """Stop a probe still in flight (nobody waits for it once the gateway stops)."""
        probe = self._probe
        if probe is not None:
            probe.cancel()
            await asyncio.gather(probe, return_exceptions=True)

    async def resolve(self) -> ResolvedModel:
        if self._resolved is not None:
            return self._resolved
        remembered = self._remembered_outcome()
        if remembered is not None:
            return remembered
        if self._probe is None:
            self._probe = asyncio.ensure_future(self._run_probe())
            self._probe.add_done_callback(_retrieve_outcome)
        # Shielded: a caller that leaves must not cancel the probe the others wait for.
        return await asyncio.shield(self._probe)

    def _remembered_outcome(self) -> ResolvedModel | None:
        """A recent fallback, or a recent failure raised again; None: time to probe."""
        now = self._clock()
        if self._failure is not None and now - self._failure[0] < self._failure_memory:
            raise self._failure[1].with_traceback(None)
        if self._fallback is not None and now - self._fallback[0] < self._failure_memory:
            return self._fallback[1]
        return None

    async def _run_probe(self) -> ResolvedModel:
        try:
            resolved, final = await self._discover()
        except GatewayError as failure:
            self._failure = (self._clock(), failure)
            raise
        finally:
            self._probe = None
        self._failure = None
        if final:
            self._resolved = resolved
        else:
            self._fallback = (self._clock(), resolved)
        return resolved

    async def resolve_named(self, name: str | None) -> ResolvedModel:
        """The configured model for None (or its own name); else a model the upstream
        lists, with its context length, or 404 `model_not_found`."""
        configured = await self.resolve()
        if name is None or name == configured.name:
            return configured
        listed = next((m for m in await self._client.list_models() if m.id == name), None)
        if listed is None:
            raise model_not_found(name)
        return ResolvedModel(name, listed.max_model_len or configured.max_model_len)

    async def _discover(self) -> tuple[ResolvedModel, bool]:
        """The model, and whether that answer is final (not a fallback to retry later)."""
        if self._configured_model and self._configured_max_len:
            return ResolvedModel(self._configured_model, self._configured_max_len), True
        try:
            models = await self._client.list_models()
        except UpstreamError:
            if self._configured_model is None:
                raise
            fallback = self._configured_max_len or DEFAULT_MAX_MODEL_LEN
            return ResolvedModel(self._configured_model, fallback), False
        chosen = next((m for m in models if m.id == self._configured_model), None)
        if chosen is None and self._configured_model is None:
            if not models:
                raise UpstreamError(
                    "the inference server lists no models; set LLM_MODEL",
                    code="upstream_no_models",
                )
            chosen = models[0]
        name = self._configured_model or (chosen.id if chosen else "")
        max_len = (
            self._configured_max_len
            or (chosen.max_model_len if chosen else None)
            or DEFAULT_MAX_MODEL_LEN
        )
        return ResolvedModel(name=name, max_model_len=max_len), True


def _retrieve_outcome(probe: asyncio.Task[ResolvedModel]) -> None:
    """Mark a probe's failure as seen, for when every caller that awaited it has left."""
    if not probe.cancelled():
        probe.exception()
