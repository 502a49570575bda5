"""Visiting the dashboards: an HTTP client that keeps the session cookie, and headless Chromium.

httpx follows the cookie rules of plain HTTP and never sends a Secure cookie to
http://127.0.0.1, while browsers do (loopback counts as a secure origin); the visitor
therefore carries the session cookie itself, as a browser would.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

COOKIE = "shipyard_session"
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


class Visitor:
    """A browser-like client of one server: keeps its session cookie, finds CSRF tokens."""

    def __init__(self, base_url: str) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=30, follow_redirects=False)
        self.cookie = ""

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = dict(kwargs.pop("headers", {}) or {})
        if self.cookie:
            headers["Cookie"] = f"{COOKIE}={self.cookie}"
        response = self.http.request(method, path, headers=headers, **kwargs)
        self.http.cookies.clear()
        for header in response.headers.get_list("set-cookie"):
            name, _, rest = header.partition("=")
            if name == COOKIE:
                self.cookie = rest.split(";")[0]
        return response

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self._send("GET", path, **kwargs)

    def post(self, path: str, data: dict[str, str], **kwargs: Any) -> httpx.Response:
        return self._send("POST", path, data=data, **kwargs)

    def csrf(self, page: str = "/ui/login") -> str:
        response = self.get(page)
        found = _CSRF.search(response.text)
        assert found, f"no CSRF token on {page} ({response.status_code})"
        return found.group(1)

    def submit(self, page: str, action: str, fields: dict[str, str]) -> httpx.Response:
        """Post a form of ``page`` as a browser would: with the page's CSRF token."""
        return self.post(action, {"csrf": self.csrf(page), **fields})

    def login(self, token: str) -> httpx.Response:
        response = self.submit("/ui/login", "/ui/login", {"token": token, "next": "/ui/"})
        assert response.status_code == 303, response.text
        return response

    def close(self) -> None:
        self.http.close()


def chromium_missing() -> str:
    """Why no browser test can run here ("" when Chromium and its driver are installed)."""
    if not Path(CHROMIUM).exists() or not Path(CHROMEDRIVER).exists():
        return "Debian's chromium and chromium-driver are not installed (make setup installs them)"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (it is in the dev extras)"
    return ""


@contextmanager
def chromium(window: tuple[int, int] = (1280, 900)) -> Iterator[Any]:
    """A headless Chromium driven by Debian's chromedriver; nothing is downloaded."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="shipyard-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--window-size={window[0]},{window[1]}",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(flag)
    # An explicit driver path: Selenium Manager never looks for (or fetches) a driver.
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


needs_chromium = pytest.mark.skipif(bool(chromium_missing()), reason=chromium_missing() or "-")
