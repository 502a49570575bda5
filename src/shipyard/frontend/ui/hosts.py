"""One host's page, and what an admin does to a host."""

from __future__ import annotations

import hashlib
from typing import Any

import yaml
from fastapi import APIRouter, Request
from starlette.responses import HTMLResponse, Response

from shipyard.frontend.api.deps import SessionDep, SettingsDep
from shipyard.frontend.api.routes.join import rendered
from shipyard.frontend.core.problems import Problem
from shipyard.frontend.crud import attributes, hosts
from shipyard.frontend.models import Host, utcnow
from shipyard.frontend.ui.attrs import set_from_form, unset_from_form
from shipyard.frontend.ui.deps import AdminDep, FormDep, PagesDep
from shipyard.web.pages import PREFIX, Pages, redirect, secure

router = APIRouter()
DONE = {
    "reset": "Reset for reinstall: its tokens are revoked and it may join once more.",
    "set": "Attribute set.",
    "unset": "Attribute removed.",
}


def _reports(pages: Pages, host: Host) -> tuple[str, str]:
    """The host's state, report timeline and failure output, and their ETag."""
    timeline = sorted(host.transitions.items(), key=lambda kv: kv[1])
    html = pages.fragment("_host_reports.html", {"host": host, "timeline": timeline})
    return html, '"' + hashlib.sha256(html.encode()).hexdigest()[:32] + '"'


def _host_context(pages: Pages, session: Any, host: Host) -> dict[str, Any]:
    reports, etag = _reports(pages, host)
    profile_text, profile_error = "", ""
    try:
        profile = rendered(session, host, mask=True)
        profile_text = yaml.safe_dump(
            profile.model_dump(exclude={"host", "appliance", "attributes"}),
            sort_keys=False,
            allow_unicode=True,
        )
    except Problem as exc:
        profile_error = str(exc)
    return {
        "title": host.name,
        "host": host,
        "now": utcnow(),
        "reports": reports,
        "etag": etag,
        "attributes": attributes.public_for_host(session, host),
        "profile": profile_text,
        "profile_error": profile_error,
    }


@router.get("/hosts/{name}")
def host_page(
    request: Request,
    name: str,
    pages: PagesDep,
    session: SessionDep,
    _admin: AdminDep,
    done: str = "",
) -> Response:
    found = _host_or_page(request, pages, session, name)
    if isinstance(found, Response):
        return found
    context = {**_host_context(pages, session, found), "notice": DONE.get(done, "")}
    return pages.render(request, "host.html", context)


def _host_or_page(request: Request, pages: Pages, session: Any, name: str) -> Host | Response:
    try:
        return hosts.get(session, name)
    except Problem as exc:
        return pages.render(
            request, "refused.html", {"title": "Not found", "error": str(exc)}, status=404
        )


@router.get("/hosts/{name}/live")
def host_live(
    request: Request, name: str, pages: PagesDep, session: SessionDep, _admin: AdminDep
) -> Response:
    """The host's reports alone, for its page to poll; 304 while nothing changed."""
    found = _host_or_page(request, pages, session, name)
    if isinstance(found, Response):
        return found
    html, etag = _reports(pages, found)
    if request.headers.get("if-none-match") == etag:
        return secure(Response(status_code=304, headers={"ETag": etag}))
    return secure(HTMLResponse(html, headers={"ETag": etag}))


@router.post("/hosts/{name}/reset")
def reset_host(
    request: Request, name: str, pages: PagesDep, session: SessionDep, _a: AdminDep, _f: FormDep
) -> Response:
    found = _host_or_page(request, pages, session, name)
    if isinstance(found, Response):
        return found
    hosts.reset(session, found.name)
    return redirect(f"{PREFIX}/hosts/{found.name}?done=reset")


@router.post("/hosts/{name}/remove")
def remove_host(
    request: Request, name: str, pages: PagesDep, session: SessionDep, _a: AdminDep, _f: FormDep
) -> Response:
    found = _host_or_page(request, pages, session, name)
    if isinstance(found, Response):
        return found
    session.delete(found)
    return redirect(f"{PREFIX}/?done=removed")


@router.post("/hosts/{name}/attributes")
def set_host_attribute(
    request: Request,
    name: str,
    pages: PagesDep,
    session: SessionDep,
    settings: SettingsDep,
    _a: AdminDep,
    form: FormDep,
) -> Response:
    found = _host_or_page(request, pages, session, name)
    if isinstance(found, Response):
        return found
    problem = set_from_form(session, "host", found.id, form, settings.secret_key)
    if problem:
        context = {**_host_context(pages, session, found), "error": problem}
        return pages.render(request, "host.html", context, status=422)
    return redirect(f"{PREFIX}/hosts/{found.name}?done=set")


@router.post("/hosts/{name}/attributes/unset")
def unset_host_attribute(
    request: Request, name: str, pages: PagesDep, session: SessionDep, _a: AdminDep, form: FormDep
) -> Response:
    found = _host_or_page(request, pages, session, name)
    if isinstance(found, Response):
        return found
    problem = unset_from_form(session, "host", found.id, form)
    if problem:
        context = {**_host_context(pages, session, found), "error": problem}
        return pages.render(request, "host.html", context, status=404)
    return redirect(f"{PREFIX}/hosts/{found.name}?done=unset")
