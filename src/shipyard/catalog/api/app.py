"""The distribution server: the signed index and blobs, plus a JSON API to resolve and list.

Anyone may read; changes (deprecate, channel) need the admin token as a bearer token.
Nothing is built until ``create_app(served)`` is called.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from shipyard.catalog.api.deps import ServedCatalog
from shipyard.catalog.api.routes import images, streams
from shipyard.errors import ShipyardError, http_status_for


async def _refused(_request: Request, exc: Exception) -> JSONResponse:
    """Our errors as one sentence, with the status of their kind (404, 409, 400, 500)."""
    assert isinstance(exc, ShipyardError)
    return JSONResponse({"detail": str(exc)}, status_code=http_status_for(exc))


def create_app(served: ServedCatalog) -> FastAPI:
    app = FastAPI(
        title="Shipyard image catalog",
        version="1",
        description="Signed simplestreams index of Shipyard images, their downloads and AMIs.",
        # Swagger UI and ReDoc load their scripts from a CDN: blank offline, and a third
        # party in every admin's browser. The schema is at /openapi.json; docs/ describes it.
        docs_url=None,
        redoc_url=None,
    )
    app.state.served = served
    app.add_exception_handler(ShipyardError, _refused)
    app.include_router(images.router)
    app.include_router(streams.router)

    from shipyard.catalog.ui import mount

    mount(app)  # the pages under /ui/
    return app
