"""Reading the catalog, logging in, and promoting or deprecating a version."""

from __future__ import annotations

import hmac
import shlex
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from shipyard.catalog import add, resolve
from shipyard.catalog.api.deps import ServedCatalog
from shipyard.errors import ShipyardError, http_status_for
from shipyard.web.forms import Form, LoginRequired, read_form
from shipyard.web.pages import PREFIX, Pages, redirect, safe_next
from shipyard.web.session import WebSession, current, keep

router = APIRouter(prefix=PREFIX, include_in_schema=False)
ADMIN = "admin"
ACTIONS: dict[str, tuple[dict[str, Any], str]] = {
    "promote": ({"channel": "stable"}, "promoted to stable"),
    "demote": ({"channel": "daily"}, "moved back to daily"),
    "deprecate": ({"deprecated": True}, "deprecated: resolve skips it"),
    "undeprecate": ({"deprecated": False}, "no longer deprecated"),
}


def _pages(request: Request) -> Pages:
    pages: Pages = request.app.state.pages
    return pages


def _served(request: Request) -> ServedCatalog:
    served: ServedCatalog = request.app.state.served
    return served


PagesDep = Annotated[Pages, Depends(_pages)]
SettingsDep = Annotated[ServedCatalog, Depends(_served)]


def _is_admin(request: Request, pages: Pages, settings: ServedCatalog) -> bool:
    web = current(request, pages.signer)
    return bool(settings.admin_token and web is not None and web.subject == ADMIN)


def _require_admin(request: Request, pages: PagesDep, settings: SettingsDep) -> WebSession:
    if not _is_admin(request, pages, settings):
        raise LoginRequired("log in with the catalog's admin token")
    web = current(request, pages.signer)
    assert web is not None
    return web


async def _posted(request: Request, pages: PagesDep) -> Form:
    return await read_form(request, pages.signer)


AdminDep = Annotated[WebSession, Depends(_require_admin)]
FormDep = Annotated[Form, Depends(_posted)]


def queries(image: resolve.Image, base_url: str) -> tuple[str, str]:
    """The CLI command and the URL that resolve to the newest version of this product."""
    terms = {k: str(image.fields[k]) for k in resolve.PRODUCT_KEYS if image.fields.get(k)}
    command = "shipyard catalog resolve " + " ".join(
        shlex.quote(f"{k}={v}") for k, v in terms.items()
    )
    url = f"{base_url.rstrip('/')}/api/v1/resolve?{urlencode(terms)}"
    return command, url


def _products(view: resolve.View, base_url: str) -> list[dict[str, Any]]:
    products = []
    for pid in sorted(view.products):
        images = view.products[pid]
        if not images:
            continue
        command, url = queries(images[0], base_url)
        newest = resolve.resolve(view, resolve.parse_filters([f"product_id={pid}"]))
        products.append(
            {
                "id": pid,
                "fields": {k: images[0].fields.get(k) for k in resolve.PRODUCT_KEYS},
                "images": images,
                "command": command,
                "url": url,
                "newest": newest.version if newest else "",
            }
        )
    return products


def _images_page(
    request: Request, pages: Pages, settings: ServedCatalog, *, status: int = 200, **extra: Any
) -> Response:
    context: dict[str, Any] = {
        "title": "Images",
        "admin": _is_admin(request, pages, settings),
        "can_login": bool(settings.admin_token),
        "products": [],
        "updated": "",
        **extra,
    }
    try:
        view = settings.view()
    except ShipyardError as exc:
        context["error"] = context.get("error") or str(exc)
        return pages.render(request, "images.html", context, status=503)
    context.update(products=_products(view, str(request.base_url)), updated=view.updated)
    return pages.render(request, "images.html", context, status=status)


@router.get("/")
def images_page(
    request: Request, pages: PagesDep, settings: SettingsDep, done: str = ""
) -> Response:
    notice = ""
    if done:
        version, _, action = done.rpartition(":")
        if action in ACTIONS:
            notice = f"{version} {ACTIONS[action][1]}."
    return _images_page(request, pages, settings, notice=notice)


@router.post("/images/{product}/{version}")
def change_image(
    request: Request,
    product: str,
    version: str,
    pages: PagesDep,
    settings: SettingsDep,
    _admin: AdminDep,
    form: FormDep,
) -> Response:
    action = form.get("action")
    if action not in ACTIONS:
        return _images_page(
            request, pages, settings, status=422, error=f"{action!r} is not an action"
        )
    changes, _ = ACTIONS[action]
    try:
        add.update(settings.store, version, product, settings.home, **changes)
    except ShipyardError as exc:
        return _images_page(request, pages, settings, status=http_status_for(exc), error=str(exc))
    settings.forget()
    return redirect(f"{PREFIX}/?{urlencode({'done': f'{version}:{action}'})}")


def _login_page(request: Request, pages: Pages, settings: ServedCatalog, **extra: Any) -> Response:
    context: dict[str, Any] = {
        "title": "Log in",
        "next": safe_next(request.query_params.get("next")),
        "hint": "the token `catalog serve` was given",
        "can_login": bool(settings.admin_token),
        **extra,
    }
    if not settings.admin_token:
        context["error"] = (
            "This catalog server accepts no changes: it was started without an admin token."
        )
    return pages.render(request, "login.html", context, status=403 if "error" in context else 200)


@router.get("/login")
def login_page(request: Request, pages: PagesDep, settings: SettingsDep) -> Response:
    return _login_page(request, pages, settings)


@router.post("/login")
def log_in(request: Request, pages: PagesDep, settings: SettingsDep, form: FormDep) -> Response:
    given = form.get("token").encode()
    if not settings.admin_token or not hmac.compare_digest(given, settings.admin_token.encode()):
        return _login_page(
            request, pages, settings, error="That is not this catalog's admin token."
        )
    signed_in = pages.signer.fresh(subject=ADMIN)
    return keep(redirect(safe_next(form.get("next"))), pages.signer, signed_in)


@router.post("/logout")
def log_out(pages: PagesDep, form: FormDep) -> Response:
    return keep(redirect(PREFIX + "/"), pages.signer, pages.signer.fresh())
