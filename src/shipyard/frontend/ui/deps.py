"""Who is looking at the dashboard, and the checked form they posted."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import Connection, bindparam, select
from sqlalchemy.orm import Session

from shipyard.frontend.api.deps import SessionDep
from shipyard.frontend.models import Token, utcnow
from shipyard.web.forms import Form, LoginRequired, read_form
from shipyard.web.pages import Pages
from shipyard.web.session import WebSession, current


def get_pages(request: Request) -> Pages:
    pages: Pages = request.app.state.pages
    return pages


PagesDep = Annotated[Pages, Depends(get_pages)]


_TOKEN = select(Token.kind, Token.revoked_at, Token.expires_at).where(
    Token.id == bindparam("token_id")
)


def admin_token_live(db: Session | Connection, subject: str) -> bool:
    """Whether the admin token a session was opened with is neither revoked nor expired."""
    if not subject.isdigit() or len(subject) > 18:
        return False
    token = db.execute(_TOKEN, {"token_id": int(subject)}).first()
    if token is None or token.kind != "admin" or token.revoked_at is not None:
        return False
    return token.expires_at is None or token.expires_at > utcnow()


def session_subject(request: Request, pages: Pages) -> str:
    """Who the session cookie says is logged in ("" for nobody); the database decides."""
    web = current(request, pages.signer)
    return web.subject if web is not None and web.logged_in else ""


def require_admin(request: Request, pages: PagesDep, session: SessionDep) -> WebSession:
    web = current(request, pages.signer)
    if web is None or not web.logged_in or not admin_token_live(session, web.subject):
        raise LoginRequired("log in with an admin token")
    return web


async def posted(request: Request, pages: PagesDep) -> Form:
    return await read_form(request, pages.signer)


AdminDep = Annotated[WebSession, Depends(require_admin)]
FormDep = Annotated[Form, Depends(posted)]
