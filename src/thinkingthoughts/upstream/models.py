"""Which upstream model the gateway talks to, and how long its context is."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from thinkingthoughts.errors import NotFoundError, UpstreamError
from thinkingthoughts.upstream.client import UpstreamClient

DEFAULT_MAX_MODEL_LEN = 8192
"""Assumed when neither the settings nor the upstream say; an overflow still maps to 413."""


def model_not_found(model: str) -> NotFoundError:
    return NotFoundError(f"The model `{model}` does not exist.", code="model_not_found")


@dataclass(frozen=True, slots=True)
class ResolvedModel:
    name: str
    max_model_len: int


class ModelResolver:
    """Settings first, then the upstream's `/v1/models`; a success is remembered."""

    def __init__(
        self,
        client: UpstreamClient,
        *,
        configured_model: str | None,
        configured_max_model_len: int | None,
    ) -> None:
        self._client = client
        self._configured_model = configured_model
        self._configured_max_len = configured_max_model_len
        self._resolved: ResolvedModel | None = None
        self._lock = asyncio.Lock()

    @property
    def resolved(self) -> ResolvedModel | None:
        return self._resolved

    async def resolve(self) -> ResolvedModel:
        if self._resolved is not None:
            return self._resolved
        async with self._lock:
            if self._resolved is not None:
                return self._resolved
            resolved, final = await self._discover()
            if final:
                self._resolved = resolved
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
