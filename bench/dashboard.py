"""The dashboard's hosts table: how long a page, a changed fragment and a 304 take.

Serves a frontend over SQLite on 127.0.0.1, joins N hosts, logs in as a browser would,
and prints a table of median times per fleet size.

    python bench/dashboard.py [--hosts 100,500,2000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import re
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from shipyard.frontend import setup
from shipyard.frontend.api.app import create_app
from shipyard.frontend.core import db
from shipyard.frontend.core.config import FrontendConfig, RateLimit
from shipyard.frontend.server import background

COOKIE = "shipyard_session"


def _login(http: httpx.Client, token: str) -> dict[str, str]:
    page = http.get("/ui/login")
    cookie = {"Cookie": f"{COOKIE}={page.cookies.get(COOKIE) or _cookie(page)}"}
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf
    answer = http.post(
        "/ui/login", data={"csrf": csrf.group(1), "token": token, "next": "/ui/"}, headers=cookie
    )
    return {"Cookie": f"{COOKIE}={_cookie(answer)}"}


def _cookie(response: httpx.Response) -> str:
    for header in response.headers.get_list("set-cookie"):
        name, _, rest = header.partition("=")
        if name == COOKIE:
            return rest.split(";")[0]
    raise SystemExit("no session cookie")


def _median_ms(http: httpx.Client, path: str, headers: dict[str, str], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        status = http.get(path, headers=headers).status_code
        if status not in (200, 304):
            raise SystemExit(f"{path} answered {status}")
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def measure(hosts: int, repeat: int) -> tuple[float, float, float, int]:
    folder = Path(tempfile.mkdtemp(prefix="shipyard-dash-"))
    url = f"sqlite:///{folder / 'frontend.db'}"
    engine = db.make_engine(url)
    made = setup.init(engine)
    unlimited = RateLimit(1_000_000, 60.0)
    settings = FrontendConfig(
        db_url=url, join_rate_per_token=unlimited, join_rate_per_address=unlimited
    )
    with (
        background(create_app(settings, engine=engine)) as base,
        httpx.Client(base_url=base, timeout=60) as http,
    ):
        join = {"Authorization": f"Bearer {made['join_token']}"}
        for i in range(hosts):
            http.post("/api/v1/join", json={"instance_id": f"i-{i:08x}"}, headers=join)
        session = _login(http, made["admin_token"])
        page = _median_ms(http, "/ui/", session, repeat)
        fragment = _median_ms(http, "/ui/hosts/live", session, repeat)
        first = http.get("/ui/hosts/live", headers=session)
        same = {**session, "If-None-Match": first.headers["etag"]}
        unchanged = _median_ms(http, "/ui/hosts/live", same, repeat)
    engine.dispose()
    return page, fragment, unchanged, len(first.content)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", default="100,500,2000")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print(f"{'hosts':>6}  {'page ms':>8}  {'fragment ms':>11}  {'304 ms':>7}  {'fragment KiB':>12}")
    for n in (int(x) for x in args.hosts.split(",")):
        page, fragment, unchanged, size = measure(n, args.repeat)
        print(f"{n:>6}  {page:>8.1f}  {fragment:>11.1f}  {unchanged:>7.1f}  {size / 1024:>12.0f}")


if __name__ == "__main__":
    main()
