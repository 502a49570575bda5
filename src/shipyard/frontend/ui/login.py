"""Logging in with an admin token, and out."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from shipyard.frontend.api.deps import SessionDep
from shipyard.frontend.crud import tokens
from shipyard.frontend.ui.deps import FormDep, PagesDep
from shipyard.web.pages import PREFIX, redirect, safe_next
from shipyard.web.session import keep

router = APIRouter()
HINT = (
    "`shipyard frontend init` prints one; `shipyard frontend token create --kind admin` makes more"
)


@router.get("/login")
def login_page(request: Request, pages: PagesDep, next: str = "") -> Response:
    context = {"title": "Log in", "next": safe_next(next), "hint": HINT}
    return pages.render(request, "login.html", context)


@router.post("/login")
def log_in(request: Request, pages: PagesDep, form: FormDep, session: SessionDep) -> Response:
    token = tokens.find(session, form.get("token"), "admin")
    if token is None:
        context = {
            "title": "Log in",
            "next": safe_next(form.get("next")),
            "hint": HINT,
            "error": "That is not a live admin token of this frontend.",
        }
        return pages.render(request, "login.html", context, status=403)
    # A new nonce on login: a session cookie planted before cannot ride on this one.
    signed_in = pages.signer.fresh(subject=str(token.id))
    return keep(redirect(safe_next(form.get("next"))), pages.signer, signed_in)


@router.post("/logout")
def log_out(pages: PagesDep, form: FormDep) -> Response:
    return keep(redirect(PREFIX + "/login"), pages.signer, pages.signer.fresh())
