"""The catalog's pages under /ui/: products, versions per channel, downloads, AMIs, and
promote/deprecate for whoever logged in with the catalog's admin token."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from shipyard.web.pages import PREFIX, Pages
from shipyard.web.session import SessionSigner
from shipyard.web.site import install

NAV = (("Images", PREFIX + "/"),)


def mount(app: FastAPI) -> None:
    """Add the pages to a catalog app made by create_app."""
    from shipyard.catalog.ui.images import router

    token = app.state.served.admin_token
    # Sessions are signed with a key that follows from the admin token: replicas share
    # them, and a new token ends every session opened with the old one.
    signer = (
        SessionSigner.derived(token, "shipyard catalog dashboard session")
        if token
        else SessionSigner.ephemeral()
    )
    pages = Pages(Path(__file__).parent / "templates", signer, server="catalog", nav=NAV)
    install(app, pages, router)
