"""What booting hosts call: join, fetch their profile, report their state."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Annotated, Any, TypeVar

import anyio.to_thread
from fastapi import APIRouter, Depends, Request, Response
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import BaseModel
from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shipyard.frontend.api.deps import DbDep, SettingsDep, TokenDep, bearer
from shipyard.frontend.core.config import FrontendConfig
from shipyard.frontend.core.db import Database
from shipyard.frontend.core.problems import Conflict, Forbidden, Unauthorized
from shipyard.frontend.core.sealing import mask as mask_secrets
from shipyard.frontend.core.security import (
    TOKEN_PREFIX,
    IdentityRefused,
    check_identity,
    digest,
    verify_identity,
)
from shipyard.frontend.crud import attributes, hosts, joining
from shipyard.frontend.models import utcnow
from shipyard.frontend.profiles import render
from shipyard.frontend.schemas.attributes import SHADOW_MASK
from shipyard.frontend.schemas.hosts import HostPublic, JoinRequest, JoinResponse, StatusReport
from shipyard.frontend.schemas.profile import RenderedProfile

router = APIRouter(prefix="/api/v1", tags=["join"])
T = TypeVar("T")

# Concurrent joins may pick the same rank; the loser retries with the next one.
JOIN_ATTEMPTS = 8


def _prove(
    conn: Connection,
    req: JoinRequest,
    credentials: HTTPAuthorizationCredentials | None,
    keys: list[tuple[Any, str | None]],
    settings: FrontendConfig,
    now: datetime,
) -> joining.Proof:
    """What the request proves: a host's own token, an identity document, or a join token.

    A document is weighed only where identity certificates are configured; there it is
    the proof (a join token beside it is not spent), and a bad one is refused outright.
    """
    plain = credentials.credentials if credentials is not None else ""
    if plain.startswith(TOKEN_PREFIX["host"]):
        host = joining.host_by_token(conn, plain, now)
        if host is None:
            raise Forbidden("the host token is not valid (expired, revoked or unknown)")
        return joining.Proof("host", host_id=host.id)
    if keys and (req.identity_document or req.identity_signature):
        try:
            doc = verify_identity(req.identity_document, req.identity_signature, keys)
            stale = check_identity(doc, req, settings, now)
        except IdentityRefused as exc:
            raise Forbidden(str(exc)) from exc
        return joining.Proof("identity", nonce=req.nonce, stale=stale)
    if not plain:
        if req.identity_document:
            raise Forbidden("this frontend accepts no identity documents (none configured)")
        raise Unauthorized("joining needs a join token or a signed instance-identity document")
    token = joining.join_token(conn, plain, now)
    if token is None:
        raise Forbidden("the join token is not valid (expired, used up, revoked or unknown)")
    if token.appliance is not None and token.appliance != req.appliance:
        raise Forbidden(f"the join token is for appliance {token.appliance}, not {req.appliance}")
    joining.spend(conn, token)
    return joining.Proof("join")


async def _confirm_with_ec2(
    checker: Any, req: JoinRequest, keys: list[tuple[Any, str | None]], settings: FrontendConfig
) -> None:
    """Ask EC2 whether the document's instance runs where its appliance allows.

    Done before the database transaction: an AWS round trip must not hold a write turn.
    """
    from shipyard.frontend.instances import confirm

    try:
        doc = verify_identity(req.identity_document, req.identity_signature, keys)
        check_identity(doc, req, settings, utcnow())
    except IdentityRefused as exc:
        raise Forbidden(str(exc)) from exc
    region = str(doc.get("region", ""))
    facts = await anyio.to_thread.run_sync(checker.describe, region, req.instance_id)
    confirm(facts, req.instance_id, req.appliance, settings.identity_bindings)


def _client_address(request: Request) -> str:
    return request.client.host if request.client else ""


@router.post("/join", response_model=JoinResponse, responses={401: {}, 403: {}, 409: {}, 429: {}})
async def join(
    req: JoinRequest,
    request: Request,
    database: DbDep,
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Response:
    """Register a booting host and hand it a short-lived host token."""
    keys = request.app.state.identity_keys
    source = _client_address(request)
    per_token, per_address = request.app.state.join_limits
    per_address.hit(source)
    if credentials is not None and credentials.credentials:
        per_token.hit(digest(credentials.credentials))
    else:
        per_token.hit("identity:" + req.instance_id)

    checker = request.app.state.instance_checker
    if checker is not None and keys and (req.identity_document or req.identity_signature):
        await _confirm_with_ec2(checker, req, keys, settings)

    def work(conn: Connection) -> JoinResponse:
        now = utcnow()
        proof = _prove(conn, req, credentials, keys, settings, now)
        joined = joining.register(conn, req, proof, source, now)
        ttl = settings.host_token_ttl
        plain = joining.issue_host_token(conn, joined.host.id, ttl, now, first=joined.new)
        return JoinResponse(
            host=hosts.public(joined.host),
            host_token=plain,
            expires=now + timedelta(seconds=ttl),
            nonce=joined.nonce or None,
        )

    # Another join took the same name or slot first: read again and join afresh.
    for _attempt in range(JOIN_ATTEMPTS - 1):
        try:
            return _json(await database.run(work))
        except (IntegrityError, joining.Raced):
            continue
    try:
        return _json(await database.run(work))
    except (IntegrityError, joining.Raced) as exc:
        raise Conflict(f"instance {req.instance_id} could not be registered") from exc


def rendered(
    db: Session | Connection, host: Any, *, mask: bool, secret_key: str | None = None
) -> RenderedProfile:
    """The host's profile; ``mask`` hides shadow values (for anyone but the host itself).

    ``host`` is an ORM Host or a host row from crud.joining. Shadow values are unsealed
    only when ``mask`` is false, that is for the host's own profile.
    """
    resolved = attributes.resolve(db, host)
    if mask:
        values = {k: attributes.shown(r.value, r.shadow) for k, r in resolved.items()}
    else:
        values = attributes.opened(resolved, secret_key)
    facts = {
        "name": host.name,
        "appliance": host.appliance_name,
        "rack": host.rack,
        "rank": host.rank,
        "instance_id": host.instance_id or "",
        "ip": host.ips[0] if host.ips else "",
        "mac": host.macs[0] if host.macs else "",
    }
    profile = render(host.appliance_profile, host=facts, attributes=values)
    profile.shadow = sorted(k for k, r in resolved.items() if r.shadow)
    return profile


def _calling_host(conn: Connection, token: str, now: datetime) -> Any:
    host = joining.host_by_token(conn, token, now)
    if host is None:
        raise Forbidden("the token is not a valid host token (expired, revoked or unknown)")
    return host


@router.get("/self/profile", response_model=RenderedProfile, responses={401: {}, 403: {}})
async def my_profile(database: DbDep, settings: SettingsDep, token: TokenDep) -> Response:
    """The calling host's profile, secrets included; the host moves to profile-sent."""

    def work(conn: Connection) -> RenderedProfile:
        now = utcnow()
        host = _calling_host(conn, token, now)
        if host.state not in joining.PROFILE_STATES:
            # Secrets are handed out once per install; a reinstall is an admin reset.
            raise Conflict(
                f"host {host.name} is {host.state}; its profile is sent again only after "
                "an admin reset for reinstall"
            )
        profile = rendered(conn, host, mask=False, secret_key=settings.secret_key)
        if host.state == "registered":
            joining.move(conn, host, "profile-sent", now, "profile sent")
        return profile

    return _json(await _retried(database, work, autocommit=True))


@router.post("/self/status", response_model=HostPublic, responses={401: {}, 403: {}, 409: {}})
async def my_status(
    body: StatusReport, database: DbDep, settings: SettingsDep, token: TokenDep
) -> Response:
    """Record installing, installed, failed or online; repeating a report changes nothing."""
    message = body.message or body.step or body.state
    if body.state == "failed" and body.output_tail:
        message = f"{message}\n{body.output_tail}"

    def work(conn: Connection) -> HostPublic:
        now = utcnow()
        host = _calling_host(conn, token, now)
        # A failing step's output may hold rendered secrets: mask them before storing.
        masked = message
        if body.state == "failed":
            resolved = attributes.resolve(conn, host)
            secrets = attributes.secrets_of(resolved, settings.secret_key)
            masked = mask_secrets(message, secrets, SHADOW_MASK)
        return hosts.public(joining.report(conn, host, body.state, masked, now))

    # Autocommit on PostgreSQL: a report's one write (installed, with the revoke of its
    # tokens, is one statement there) applies only to the host as it was read.
    return _json(await _retried(database, work, autocommit=True))


async def _retried(database: Database, work: Callable[[Connection], T], *, autocommit: bool) -> T:
    """Run a host's request again when its host changed between reading and writing."""
    for _attempt in range(JOIN_ATTEMPTS - 1):
        try:
            return await database.run(work, autocommit=autocommit)
        except joining.Raced:
            continue
    try:
        return await database.run(work, autocommit=autocommit)
    except joining.Raced as exc:
        raise Conflict(f"{exc}; retry") from exc


def _json(body: BaseModel) -> Response:
    # The models are built and checked here already; returning a Response spares FastAPI
    # validating them a second time against response_model, which the docs still show.
    return Response(body.model_dump_json(), media_type="application/json")
