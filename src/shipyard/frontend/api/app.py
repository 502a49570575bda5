"""The application factory: nothing is built until `create_app(settings)` is called."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shipyard import __version__
from shipyard.errors import FrontendError, ShipyardError, http_status_for
from shipyard.frontend.core import db
from shipyard.frontend.core.config import FrontendConfig
from shipyard.frontend.core.problems import Problem
from shipyard.frontend.core.ratelimit import Limiter, TooManyRequests
from shipyard.frontend.core.security import load_certificates

log = logging.getLogger(__name__)


class BodyLimit:
    """Refuse request bodies larger than ``limit`` bytes before anything parses them."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.limit):
            await self._refuse(send)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                raise _TooLarge
            return message

        try:
            await self.app(scope, counted, send)
        except _TooLarge:
            await self._refuse(send)

    async def _refuse(self, send: Send) -> None:
        response = JSONResponse(
            {"detail": f"the request body is larger than {self.limit} bytes"}, status_code=413
        )
        await response({"type": "http"}, _no_receive, send)


class _TooLarge(Exception):
    pass


async def _no_receive() -> Message:
    return {"type": "http.disconnect"}


async def _problem(_request: Request, exc: Exception) -> JSONResponse:
    """Our errors as one sentence: a Problem's own status, else its kind's (errors.py)."""
    assert isinstance(exc, ShipyardError)
    status = exc.status if isinstance(exc, Problem) else http_status_for(exc)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    if isinstance(exc, TooManyRequests):
        headers = {"Retry-After": str(exc.retry_after)}
    return JSONResponse({"detail": str(exc)}, status_code=status, headers=headers)


async def _db_conflict(_request: Request, exc: Exception) -> JSONResponse:
    # Two requests raced for the same name, slot or instance; the loser may retry.
    return JSONResponse(
        {"detail": "the change conflicts with a concurrent one; retry"}, status_code=409
    )


async def _db_busy(_request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse(
        {"detail": "the database is busy; retry shortly"},
        status_code=503,
        headers={"Retry-After": "1"},
    )


async def sweep_forever(database: db.Database, settings: FrontendConfig) -> None:
    """Mark hosts stuck past the install timeout as failed, every sweep interval."""
    from shipyard.frontend.crud import hosts, joining
    from shipyard.frontend.models import utcnow

    while True:
        await asyncio.sleep(settings.sweep_interval)
        try:
            failed = await database.run(lambda conn: hosts.sweep(conn, settings.install_timeout))
            await database.run(lambda conn: joining.purge_host_tokens(conn, utcnow()))
        except (OperationalError, PoolTimeout) as exc:
            # A busy or unreachable database now is no reason to stop sweeping later.
            log.warning("stuck-host sweep skipped: %s", exc)
            continue
        for name in failed:
            log.warning("host %s made no progress for %d s; marked failed", name,
                        settings.install_timeout)  # fmt: skip


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    sweeper = asyncio.create_task(sweep_forever(app.state.db, app.state.settings))
    try:
        yield
    finally:
        sweeper.cancel()
        with suppress(asyncio.CancelledError):
            await sweeper
        await app.state.db.aclose()


def create_app(settings: FrontendConfig, *, engine: Any = None) -> FastAPI:
    """A frontend application over the database named in ``settings``."""
    from shipyard.frontend.api.routes import appliances, attributes, hosts, join, report

    if settings.identity_certs and not settings.identity_accounts:
        # AWS signs the documents of every account in a region with one certificate:
        # without an account, any instance in the region could join.
        raise FrontendError(
            "identity certificates are configured but no account to accept documents from"
        )
    app = FastAPI(
        lifespan=_lifespan,
        title="Shipyard frontend",
        version=__version__,
        description="Hosts register, fetch their profile and install themselves.",
        # Swagger UI and ReDoc load their scripts from a CDN: blank offline, and a third
        # party in every admin's browser. The schema is at /openapi.json; docs/ describes it.
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.db = db.Database(engine or db.make_engine(settings.db_url))
    if any(b.needs_ec2 for b in settings.identity_bindings) and not settings.confirm_instances:
        raise FrontendError(
            "VPC, subnet and role bindings need instances confirmed with EC2 "
            "(the identity document does not carry them)"
        )
    app.state.identity_keys = load_certificates(settings.identity_certs)
    app.state.instance_checker = None
    if settings.confirm_instances is not None:
        from shipyard.frontend.instances import InstanceChecker

        app.state.instance_checker = InstanceChecker(settings.confirm_instances)
    app.state.join_limits = (
        Limiter(settings.join_rate_per_token, "with this token"),
        Limiter(settings.join_rate_per_address, "from this address"),
    )
    app.add_exception_handler(ShipyardError, _problem)
    app.add_exception_handler(IntegrityError, _db_conflict)
    app.add_exception_handler(OperationalError, _db_busy)
    app.add_exception_handler(PoolTimeout, _db_busy)
    for module in (join, hosts, appliances, attributes, report):
        app.include_router(module.router)

    @app.get("/healthz", tags=["health"])
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    from shipyard.frontend.ui import mount

    mount(app)  # the dashboard under /ui/
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)
    return app
