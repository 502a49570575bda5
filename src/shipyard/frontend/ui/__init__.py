"""The frontend's dashboard: server-rendered pages under /ui/ for hosts, tokens and appliances."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI

from shipyard.web.pages import PREFIX, Pages
from shipyard.web.session import SessionSigner
from shipyard.web.site import install

NAV = (
    ("Hosts", PREFIX + "/"),
    ("Appliances", PREFIX + "/appliances"),
    ("Attributes", PREFIX + "/attributes"),
    ("Tokens", PREFIX + "/tokens"),
)


def mount(app: FastAPI) -> None:
    """Add the dashboard to a frontend app made by create_app."""
    from shipyard.frontend.ui import appliances, fleet, hosts, login, tokens

    secret = app.state.settings.secret_key
    # With the frontend's secret key, sessions survive restarts and work across replicas;
    # without one they last as long as this process.
    signer = (
        SessionSigner.derived(secret, "shipyard frontend dashboard session")
        if secret
        else SessionSigner.ephemeral()
    )
    pages = Pages(Path(__file__).parent / "templates", signer, server="frontend", nav=NAV)
    router = APIRouter(prefix=PREFIX, include_in_schema=False)
    for module in (login, fleet, hosts, tokens, appliances):
        router.include_router(module.router)
    install(app, pages, router)
