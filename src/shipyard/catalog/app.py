"""The distribution server: the signed index and blobs, plus a JSON API to resolve and list.

Anyone may read; changes (deprecate, channel) need the admin token as a bearer token.
"""

from __future__ import annotations

import hmac
import threading
import time
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, HTTPException, Query, Request, Response
from pydantic import BaseModel

from shipyard.catalog import add, index, resolve, sign
from shipyard.catalog.serve_files import object_response
from shipyard.catalog.store import Store
from shipyard.errors import CatalogError, ShipyardError

FILTER_KEYS = ("flavour", "release", "arch", "region", "ftype", "channel")
RECHECK_SECONDS = 1.0


class Settings:
    """What one server instance serves and whom it lets write."""

    def __init__(self, store: Store, keys: Path | None, admin_token: str | None) -> None:
        self.store = store
        self.keys = keys
        self.home = keys if keys and keys.is_dir() else sign.default_home()
        self.admin_token = admin_token
        self._lock = threading.Lock()
        self._view: resolve.View | None = None
        self._tag: str | None = None
        self._checked = 0.0

    def view(self) -> resolve.View:
        """The verified view, re-read when the signed index changes."""
        with self._lock:
            now = time.monotonic()
            if self._view is not None and now - self._checked < RECHECK_SECONDS:
                return self._view
            self._checked = now
            signed = index.INDEX.removesuffix(".json") + ".sjson"
            tag = self.store.list(signed).get(signed)
            if self._view is None or tag != self._tag:
                verifier = sign.verifier(self.keys)
                try:
                    self._view = resolve.view_from_store(self.store, verifier)
                finally:
                    verifier.close()
                self._tag = tag
            return self._view

    def forget(self) -> None:
        with self._lock:
            self._view = None


class Change(BaseModel):
    deprecated: bool | None = None
    channel: str | None = None
    product: str | None = None


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(_settings)]


def _filters(
    request: Request, filter: Annotated[list[str] | None, Query()] = None
) -> list[resolve.Filter]:
    texts = [f"{k}={request.query_params[k]}" for k in FILTER_KEYS if k in request.query_params]
    try:
        return resolve.parse_filters([*texts, *(filter or [])])
    except ShipyardError as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from None


def _view(settings: SettingsDep) -> resolve.View:
    try:
        return settings.view()
    except CatalogError as exc:
        raise HTTPException(status_code=503, detail=str(exc)) from None


def _admin(settings: SettingsDep, authorization: Annotated[str | None, Header()] = None) -> None:
    if not settings.admin_token:
        raise HTTPException(403, "this catalog server accepts no changes (no admin token)")
    given = (authorization or "").removeprefix("Bearer ").strip()
    if not hmac.compare_digest(given.encode(), settings.admin_token.encode()):
        raise HTTPException(401, "a valid admin token is needed to change the catalog")


Filters = Annotated[list[resolve.Filter], Depends(_filters)]
ViewDep = Annotated[resolve.View, Depends(_view)]


def create_app(settings: Settings) -> FastAPI:
    app = FastAPI(
        title="Shipyard image catalog",
        version="1",
        description="Signed simplestreams index of Shipyard images, their downloads and AMIs.",
    )
    app.state.settings = settings

    @app.get("/api/v1/resolve", summary="The newest image matching the filters")
    def resolve_image(flt: Filters, v: ViewDep) -> dict[str, Any]:
        image = resolve.resolve(v, flt)
        if image is None:
            raise HTTPException(404, f"no image matches {resolve.describe(flt)}")
        return image.to_json()

    @app.get("/api/v1/images", summary="Every image matching the filters, deprecated included")
    def list_images(flt: Filters, v: ViewDep) -> list[dict[str, Any]]:
        return [i.to_json() for i in resolve.matching(v, flt)]

    @app.get("/api/v1/images/{version}", summary="The images of one version")
    def show(version: str, v: ViewDep) -> list[dict[str, Any]]:
        found = [
            i.to_json()
            for images in v.products.values()
            for i in images
            if version in (i.version, i.fields.get("build_id"))
        ]
        if not found:
            raise HTTPException(404, f"no version {version} in the catalog")
        return found

    @app.post(
        "/api/v1/images/{version}",
        dependencies=[Depends(_admin)],
        summary="Deprecate or move a version (admin)",
    )
    def change(version: str, body: Change) -> dict[str, Any]:
        updates: dict[str, Any] = {}
        if body.deprecated is not None:
            updates["deprecated"] = body.deprecated
        if body.channel is not None:
            if body.channel not in ("daily", "stable"):
                raise HTTPException(400, f"{body.channel!r} is not a channel (daily, stable)")
            updates["channel"] = body.channel
        try:
            rec = add.update(settings.store, version, body.product, settings.home, **updates)
        except ShipyardError as exc:
            status = 404 if "has no version" in str(exc) else 400
            raise HTTPException(status, str(exc)) from None
        settings.forget()
        return {"product_id": rec.product_id, "version": rec.version, **updates}

    @app.get("/streams/v1/pubkey.asc", include_in_schema=False)
    def pubkey() -> Response:
        """The signing key, for clients that trust on first use; careful ones compare it."""
        if settings.keys is not None and settings.keys.is_file():
            return Response(settings.keys.read_text(), media_type="text/plain")
        return Response(sign.export_public(settings.home), media_type="text/plain")

    @app.api_route("/streams/v1/{name}", methods=["GET", "HEAD"], include_in_schema=False)
    def streams(name: str, request: Request) -> Response:
        return object_response(settings.store, f"streams/v1/{name}", request)

    @app.api_route("/blobs/sha256/{pre}/{sha}", methods=["GET", "HEAD"], include_in_schema=False)
    def blobs(pre: str, sha: str, request: Request) -> Response:
        return object_response(settings.store, f"blobs/sha256/{pre}/{sha}", request)

    return app
