"""Dependencies: the catalog being served, its verified view, filters, and the admin."""

from __future__ import annotations

import hmac
import threading
import time
from pathlib import Path
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Query, Request

from shipyard.catalog import index, resolve, sign
from shipyard.catalog.store import Store
from shipyard.errors import CatalogError, CatalogNotFound

FILTER_KEYS = ("flavour", "release", "arch", "region", "ftype", "channel")
RECHECK_SECONDS = 1.0


class ServedCatalog:
    """What one server instance serves and whom it lets write, with its cached view."""

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


def get_served(request: Request) -> ServedCatalog:
    served: ServedCatalog = request.app.state.served
    return served


ServedDep = Annotated[ServedCatalog, Depends(get_served)]


def get_filters(
    request: Request, filter: Annotated[list[str] | None, Query()] = None
) -> list[resolve.Filter]:
    texts = [f"{k}={request.query_params[k]}" for k in FILTER_KEYS if k in request.query_params]
    return resolve.parse_filters([*texts, *(filter or [])])


def get_view(served: ServedDep) -> resolve.View:
    try:
        return served.view()
    except CatalogNotFound:
        raise
    except CatalogError as exc:  # an index that cannot be read or verified: not us, not now
        raise HTTPException(status_code=503, detail=str(exc)) from None


def require_admin(served: ServedDep, authorization: Annotated[str | None, Header()] = None) -> None:
    if not served.admin_token:
        raise HTTPException(403, "this catalog server accepts no changes (no admin token)")
    given = (authorization or "").removeprefix("Bearer ").strip()
    if not hmac.compare_digest(given.encode(), served.admin_token.encode()):
        raise HTTPException(401, "a valid admin token is needed to change the catalog")


FiltersDep = Annotated[list[resolve.Filter], Depends(get_filters)]
ViewDep = Annotated[resolve.View, Depends(get_view)]
AdminDep = Depends(require_admin)
