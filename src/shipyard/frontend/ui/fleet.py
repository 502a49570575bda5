"""The hosts table: counts per state, install progress, filters, and its live fragment.

The rows are read in one short database turn and rendered after it, in a worker thread:
rendering 2,000 hosts takes about 100 ms (bench/dashboard.py), which joins must not wait
for (SQLite has one writer, and a turn is held until its handler returns). A poll that
finds nothing changed costs one counting query and answers 304.
"""

from __future__ import annotations

import hashlib
from urllib.parse import urlencode

import anyio.to_thread
from fastapi import APIRouter, Request
from sqlalchemy import Connection
from starlette.responses import HTMLResponse, Response

from shipyard.frontend.api.deps import DbDep
from shipyard.frontend.core.db import Database
from shipyard.frontend.crud import overview
from shipyard.frontend.models import utcnow
from shipyard.frontend.schemas.hosts import STATES
from shipyard.frontend.ui.deps import PagesDep, admin_token_live, session_subject
from shipyard.web.forms import LoginRequired
from shipyard.web.pages import PREFIX, Pages, age, secure

router = APIRouter()


def _filters(appliance: str, state: str) -> tuple[str, str]:
    return appliance[:63], state if state in STATES else ""


def _etag(conn: Connection, appliance: str, state: str) -> str:
    """Changes when a shown host does, and once a minute for the ages (one query, no render)."""
    minute = utcnow().strftime("%Y%m%d%H%M")
    seen = f"{overview.fingerprint(conn, appliance)}|{appliance}|{state}|{minute}"
    return '"' + hashlib.sha256(seen.encode()).hexdigest()[:32] + '"'


def _live(pages: Pages, fleet: overview.Fleet, appliance: str, state: str) -> str:
    """The live region's HTML: counts, progress and the table."""
    now = utcnow()
    rows = [
        {
            "host": h,
            "report": (h.message.splitlines() or [""])[0][:100],
            "reported": age(h.updated, now),
            "age": age(h.created, now),
        }
        for h in fleet.hosts
    ]
    context = {
        "fleet": fleet,
        "rows": rows,
        "states": STATES,
        "appliance": appliance,
        "state": state,
        "cap": overview.MAX_ROWS,
    }
    return pages.fragment("_live.html", context)


async def _read(
    request: Request,
    pages: Pages,
    database: Database,
    appliance: str,
    state: str,
    *,
    unless: str | None = None,
) -> tuple[str, overview.Fleet | None, list[str]]:
    """The ETag, the fleet (None when the ETag is ``unless``) and the appliance names."""
    subject = session_subject(request, pages)

    def work(conn: Connection) -> tuple[str, overview.Fleet | None, list[str]] | None:
        if not admin_token_live(conn, subject):
            return None
        etag = _etag(conn, appliance, state)
        if etag == unless:
            return etag, None, []
        return etag, overview.fleet(conn, appliance, state), overview.appliance_names(conn)

    found = await database.run(work)
    if found is None:
        raise LoginRequired("log in with an admin token")
    return found


@router.get("/")
async def hosts_page(
    request: Request,
    pages: PagesDep,
    database: DbDep,
    appliance: str = "",
    state: str = "",
    done: str = "",
) -> Response:
    appliance, state = _filters(appliance, state)
    etag, fleet, names = await _read(request, pages, database, appliance, state)
    assert fleet is not None
    query = urlencode({k: v for k, v in (("appliance", appliance), ("state", state)) if v})

    def page() -> Response:
        context = {
            "title": "Hosts",
            "live": _live(pages, fleet, appliance, state),
            "etag": etag,
            "live_url": f"{PREFIX}/hosts/live" + (f"?{query}" if query else ""),
            "appliances": names,
            "states": STATES,
            "appliance": appliance,
            "state": state,
            "notice": "Host removed." if done == "removed" else "",
        }
        return pages.render(request, "hosts.html", context)

    return await anyio.to_thread.run_sync(page)


@router.get("/hosts/live")
async def hosts_live(
    request: Request, pages: PagesDep, database: DbDep, appliance: str = "", state: str = ""
) -> Response:
    """The counts and the table alone, for the page to poll; 304 while nothing changed."""
    appliance, state = _filters(appliance, state)
    unless = request.headers.get("if-none-match")
    etag, fleet, _ = await _read(request, pages, database, appliance, state, unless=unless)
    if fleet is None:
        return secure(Response(status_code=304, headers={"ETag": etag}))
    html = await anyio.to_thread.run_sync(_live, pages, fleet, appliance, state)
    return secure(HTMLResponse(html, headers={"ETag": etag}))
