"""Wiring the shared parts into a server: static files, `/` to the dashboard, refusals as pages."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from shipyard.web.forms import CsrfRefused, LoginRequired
from shipyard.web.pages import PREFIX, STATIC, Pages, redirect, secure


def install(app: FastAPI, pages: Pages, router: Any) -> None:
    """Serve ``router``'s pages under /ui/ with the shared static files; `/` leads there."""
    app.state.pages = pages
    app.include_router(router)
    app.mount(PREFIX + "/static", StaticFiles(directory=STATIC), name="ui-static")

    @app.get("/", include_in_schema=False)
    def root() -> Response:
        return redirect(PREFIX + "/")

    @app.get(PREFIX, include_in_schema=False)
    def bare() -> Response:
        return redirect(PREFIX + "/")

    async def refused(request: Request, exc: Exception) -> Response:
        return pages.render(
            request, "refused.html", {"error": str(exc), "title": "Refused"}, status=403
        )

    async def login_first(request: Request, exc: Exception) -> Response:
        if request.headers.get("x-shipyard-live"):
            # A page's poller: it sends the browser to the login page itself.
            return secure(PlainTextResponse("log in again", status_code=401))
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return redirect(f"{PREFIX}/login?next={quote(target, safe='')}")

    app.add_exception_handler(CsrfRefused, refused)
    app.add_exception_handler(LoginRequired, login_first)
