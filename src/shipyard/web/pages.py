"""Rendering pages: one Jinja2 environment per server over its templates and the shared layout.

Every page goes out with a Content-Security-Policy that allows only this server's own
scripts and styles (no inline script, no third party), and is never cached.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from shipyard.web.session import SessionSigner, WebSession, current, keep

SHARED = Path(__file__).parent
STATIC = SHARED / "static"
PREFIX = "/ui"

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def secure(response: Response) -> Response:
    response.headers.update(SECURITY_HEADERS)
    return response


def age(when: datetime | None, now: datetime) -> str:
    """A coarse age ("<1 min", "5 min", "3 h", "2 d"): it changes at most once a minute."""
    if when is None:
        return ""
    seconds = max(0, int((now - when).total_seconds()))
    if seconds < 60:
        return "<1 min"
    if seconds < 3600:
        return f"{seconds // 60} min"
    if seconds < 86400:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} d"


def size(n: int | None) -> str:
    if n is None:
        return ""
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"


class Pages:
    """One server's pages: its templates beside the shared layout, and its session signer."""

    def __init__(
        self,
        templates: Path,
        signer: SessionSigner,
        *,
        server: str,
        nav: Sequence[tuple[str, str]],
    ) -> None:
        self.signer = signer
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader([str(templates), str(SHARED / "templates")]),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters["size"] = size
        self.env.globals.update(server=server, nav=list(nav), prefix=PREFIX)

    def render(
        self,
        request: Request,
        template: str,
        context: Mapping[str, Any] | None = None,
        *,
        status: int = 200,
        session: WebSession | None = None,
    ) -> Response:
        """The page, with the CSRF token of the visitor's session (one is started if none)."""
        started = session or current(request, self.signer)
        fresh = started is None
        if started is None:
            started = self.signer.fresh()
        values: dict[str, Any] = {
            "error": "",
            "notice": "",
            "cookie_refused": cookie_refused(request),
            **(context or {}),
        }
        html = self.env.get_template(template).render(
            request=request,
            path=request.url.path,
            session=started,
            csrf=self.signer.csrf(started),
            **values,
        )
        response = secure(HTMLResponse(html, status_code=status))
        if fresh or session is not None:
            keep(response, self.signer, started)
        return response

    def fragment(self, template: str, context: Mapping[str, Any]) -> str:
        return self.env.get_template(template).render(prefix=PREFIX, **context)


def cookie_refused(request: Request) -> bool:
    """True when a browser will drop the Secure session cookie: plain HTTP, not loopback."""
    import ipaddress

    if request.url.scheme != "http":
        return False
    host = request.url.hostname or ""
    if host == "localhost" or host.endswith(".localhost"):
        return False
    try:
        return not ipaddress.ip_address(host).is_loopback
    except ValueError:
        return True


def redirect(url: str) -> Response:
    """After a form: see the result with GET (reloading does not post again)."""
    return secure(RedirectResponse(url, status_code=303))


def safe_next(target: str | None) -> str:
    """Where to go after login: only a page of this dashboard, never another site."""
    if target and target.startswith(PREFIX + "/") and not target.startswith("//"):
        return target
    return PREFIX + "/"
