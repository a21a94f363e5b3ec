"""`GET /api/traits`: the trait catalog, so that clients build their sliders from data;
and the catalog's ids in the published document, where requests name traits."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI
from pydantic import BaseModel

from thinkingthoughts.api.deps import ReadPrincipal, Resources
from thinkingthoughts.personas.catalog import TraitCatalog, publish_trait_ids

router = APIRouter(prefix="/api", tags=["traits"])


class TraitOut(BaseModel):
    id: str
    label: dict[str, str]
    low: dict[str, str]
    high: dict[str, str]
    levels: dict[str, list[str]]


class TraitCatalogOut(BaseModel):
    locales: list[str]
    min_level: int
    max_level: int
    default_level: int
    dimensions: list[TraitOut]


@router.get("/traits")
async def read_traits(_: ReadPrincipal, resources: Resources) -> TraitCatalogOut:
    catalog = resources.personas.catalog
    return TraitCatalogOut(
        locales=list(catalog.locales),
        min_level=1,
        max_level=5,
        default_level=catalog.default_level,
        dimensions=[
            TraitOut(
                id=d.id,
                label=dict(d.label),
                low=dict(d.low),
                high=dict(d.high),
                levels={locale: list(lines) for locale, lines in d.levels.items()},
            )
            for d in catalog.dimensions
        ],
    )


def install_trait_ids_in_contract(app: FastAPI, catalog: TraitCatalog) -> None:
    """Make `app.openapi()` name `catalog`'s ids wherever a request takes trait levels
    (the catalog is the operator's, so no model can know its ids). The document is
    built once and kept; its ids are written once, when it is built, not on each call
    (a 405 reads the document too)."""
    build_document = app.openapi

    def openapi() -> dict[str, Any]:
        fresh = app.openapi_schema is None
        document = build_document()
        if fresh:
            publish_trait_ids(document, catalog)
        return document

    app.openapi = openapi  # type: ignore[method-assign]
