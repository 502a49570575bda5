"""The catalog's pages in headless Chromium: log in and promote an image.

Each page visited is saved as a PNG in the test's temporary folder.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from webloop import chromium, needs_chromium

from shipyard.catalog.add import add_build
from shipyard.catalog.api.app import create_app
from shipyard.catalog.api.deps import ServedCatalog
from shipyard.catalog.store import open_store

pytestmark = needs_chromium
TOKEN = "catalog-admin-token-for-browsers"
WAIT = 30


def test_log_in_and_promote_an_image(
    tmp_path: Path, make_build: Callable[..., Path], gpg_home: Path, serve: Callable[..., Any]
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    store = open_store(str(tmp_path / "catalog"))
    add_build(store, make_build(), home=gpg_home)
    newest = add_build(store, make_build(created="2026-11-22T10:00:00+00:00"), home=gpg_home)
    version = newest.version
    served = serve(create_app(ServedCatalog(store, gpg_home, TOKEN)))
    shots = tmp_path / "shots"
    shots.mkdir()

    with chromium() as browser:
        wait = WebDriverWait(browser, WAIT, poll_frequency=0.2)
        browser.get(served.url + "/")
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "table.versions"))
        browser.save_screenshot(str(shots / "images.png"))
        assert not browser.find_elements(By.ID, f"promote-{version}")

        browser.find_element(By.LINK_TEXT, "Log in").click()
        wait.until(lambda d: d.find_elements(By.ID, "token"))
        browser.save_screenshot(str(shots / "login.png"))
        browser.find_element(By.ID, "token").send_keys(TOKEN)
        browser.find_element(By.ID, "login").click()
        wait.until(lambda d: d.find_elements(By.ID, f"promote-{version}"))

        browser.find_element(By.ID, f"promote-{version}").click()
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, ".notice"))
        row = browser.find_element(By.ID, f"version-{version}")
        assert "stable" in row.text
        assert "promoted to stable" in browser.find_element(By.CSS_SELECTOR, ".notice").text
        browser.save_screenshot(str(shots / "images-admin.png"))

    for shot in ("images", "login", "images-admin"):
        assert (shots / f"{shot}.png").stat().st_size > 1000
