"""Join and admin tokens: list, create (the clear text is shown once), revoke."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy.orm import Session
from starlette.responses import Response

from shipyard.frontend.api.deps import SessionDep
from shipyard.frontend.core.problems import Problem
from shipyard.frontend.crud import appliances, overview, tokens
from shipyard.frontend.models import utcnow
from shipyard.frontend.setup import JOIN_TOKEN_TTL
from shipyard.frontend.ui.deps import AdminDep, FormDep, PagesDep
from shipyard.web.pages import PREFIX, redirect

router = APIRouter()
KINDS = ("join", "admin")
MAX_TTL = 10 * 365 * 86400


def _context(session: Session, **extra: Any) -> dict[str, Any]:
    return {
        "title": "Tokens",
        "now": utcnow(),
        "lists": {kind: tokens.listing(session, kind) for kind in KINDS},
        "appliances": overview.appliance_names(session),
        "join_ttl": JOIN_TOKEN_TTL,
        "created": "",
        "created_kind": "",
        **extra,
    }


@router.get("/tokens")
def tokens_page(
    request: Request, pages: PagesDep, session: SessionDep, _a: AdminDep, done: str = ""
) -> Response:
    notice = "Token revoked." if done == "revoked" else ""
    return pages.render(request, "tokens.html", _context(session, notice=notice))


def _number(text: str, what: str, top: int) -> int | None:
    if not text:
        return None
    if not text.isdigit() or int(text) > top:
        raise ValueError(f"{what} must be a whole number from 0 to {top}")
    return int(text)


@router.post("/tokens")
def create_token(
    request: Request, pages: PagesDep, session: SessionDep, _a: AdminDep, form: FormDep
) -> Response:
    """Mint a token and show it in this answer only; the database keeps its digest."""
    kind = form.get("kind", "join")
    try:
        if kind not in KINDS:
            raise ValueError(f"{kind!r} is not a token kind (join, admin)")
        description = form.get("description")
        if len(description) > 200:
            raise ValueError("the description must be at most 200 characters")
        ttl = _number(form.get("ttl"), "the lifetime in seconds", MAX_TTL)
        uses = _number(form.get("uses"), "the number of uses", 1_000_000)
        appliance = form.get("appliance") or None
        if kind == "join" and appliance is not None:
            appliances.get(session, appliance)
        _token, plain = tokens.create(
            session,
            kind,
            description=description,
            ttl=ttl or None,
            uses=uses if kind == "join" else None,
            appliance=appliance if kind == "join" else None,
        )
    except (ValueError, Problem) as exc:
        return pages.render(request, "tokens.html", _context(session, error=str(exc)), status=422)
    context = _context(session, created=plain, created_kind=kind)
    return pages.render(request, "tokens.html", context, status=201)


@router.post("/tokens/{token_id}/revoke")
def revoke_token(
    request: Request,
    token_id: int,
    pages: PagesDep,
    session: SessionDep,
    _a: AdminDep,
    form: FormDep,
) -> Response:
    try:
        tokens.revoke(session, token_id, form.get("kind", "join"))
    except Problem as exc:
        return pages.render(request, "tokens.html", _context(session, error=str(exc)), status=404)
    return redirect(f"{PREFIX}/tokens?done=revoked")
