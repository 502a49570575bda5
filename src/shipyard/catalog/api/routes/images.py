"""The JSON API: resolve, list and show images; deprecate or move a version (admin)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel

from shipyard.catalog import add, resolve
from shipyard.catalog.api.deps import AdminDep, FiltersDep, ServedDep, ViewDep
from shipyard.errors import CatalogNotFound, UsageError

router = APIRouter(prefix="/api/v1")


class Change(BaseModel):
    deprecated: bool | None = None
    channel: str | None = None
    product: str | None = None


@router.get("/resolve", summary="The newest image matching the filters")
def resolve_image(flt: FiltersDep, v: ViewDep) -> dict[str, Any]:
    image = resolve.resolve(v, flt)
    if image is None:
        raise CatalogNotFound(f"no image matches {resolve.describe(flt)}")
    return image.to_json()


@router.get("/images", summary="Every image matching the filters, deprecated included")
def list_images(flt: FiltersDep, v: ViewDep) -> list[dict[str, Any]]:
    return [i.to_json() for i in resolve.matching(v, flt)]


@router.get("/images/{version}", summary="The images of one version")
def show(version: str, v: ViewDep) -> list[dict[str, Any]]:
    found = [
        i.to_json()
        for images in v.products.values()
        for i in images
        if version in (i.version, i.fields.get("build_id"))
    ]
    if not found:
        raise CatalogNotFound(f"no version {version} in the catalog")
    return found


@router.post(
    "/images/{version}", dependencies=[AdminDep], summary="Deprecate or move a version (admin)"
)
def change(version: str, body: Change, served: ServedDep) -> dict[str, Any]:
    updates: dict[str, Any] = {}
    if body.deprecated is not None:
        updates["deprecated"] = body.deprecated
    if body.channel is not None:
        if body.channel not in ("daily", "stable"):
            raise UsageError(f"{body.channel!r} is not a channel (daily, stable)")
        updates["channel"] = body.channel
    rec = add.update(served.store, version, body.product, served.home, **updates)
    served.forget()
    return {"product_id": rec.product_id, "version": rec.version, **updates}
