"""The frontend's dashboard in headless Chromium: what an admin sees and does.

Each page visited is saved as a PNG in the test's temporary folder.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from frontloop import Frontend
from webloop import chromium, needs_chromium

pytestmark = [needs_chromium, pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)]
# Generous: the page polls every 2 s on a machine that may be busy.
WAIT = 30


@pytest.fixture
def browser() -> Iterator[Any]:
    with chromium() as driver:
        yield driver


def _wait(driver: Any, condition: Any) -> Any:
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, WAIT, poll_frequency=0.2).until(condition)


def _text(driver: Any, css: str) -> str:
    """The text of the first match, read in one step: the live table replaces its rows."""
    script = "const e = document.querySelector(arguments[0]); return e ? e.innerText : '';"
    text: str = driver.execute_script(script, css)
    return text


def _click_and_confirm(driver: Any, element_id: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec

    driver.find_element(By.ID, element_id).click()
    _wait(driver, ec.alert_is_present()).accept()


def _shot(driver: Any, folder: Path, name: str) -> None:
    path = folder / f"{name}.png"
    assert driver.save_screenshot(str(path)), name
    assert path.stat().st_size > 1000


def _log_in(driver: Any, frontend: Frontend, folder: Path) -> None:
    from selenium.webdriver.common.by import By

    driver.get(frontend.url + "/")
    _wait(driver, lambda d: "/ui/login" in d.current_url)
    _shot(driver, folder, "login")
    driver.find_element(By.ID, "token").send_keys(frontend.admin_token)
    driver.find_element(By.ID, "login").click()
    _wait(driver, lambda d: d.find_elements(By.ID, "hosts"))


def test_a_joining_host_appears_and_moves_on_without_a_reload(
    browser: Any, frontend: Frontend, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By

    _log_in(browser, frontend, tmp_path)
    assert "No hosts yet" in _text(browser, "#hosts")
    # Set in this page's window: a reload would drop it.
    browser.execute_script("window.stillTheSamePage = true;")

    name, host_token = frontend.joined("i-0browser", local_ipv4="10.0.0.5")
    _wait(browser, lambda d: name in _text(d, f"#host-{name}"))
    assert "registered" in _text(browser, f"#host-{name}")
    assert _text(browser, "#count-registered") == "1"

    def report(state: str, **extra: str) -> None:
        answer = frontend.http.post(
            "/api/v1/self/status",
            json={"state": state, **extra},
            headers={"Authorization": f"Bearer {host_token}"},
        )
        assert answer.status_code == 200, answer.text

    report("installing", step="packages")
    _wait(browser, lambda d: "installing" in _text(d, f"#host-{name}"))
    assert "packages" in _text(browser, f"#host-{name}")
    assert browser.execute_script("return window.stillTheSamePage === true;")
    _shot(browser, tmp_path, "hosts")

    report("failed", step="configure", output_tail="E: unable to locate package nope")
    _wait(browser, lambda d: "failed" in _text(d, f"#host-{name}"))
    assert _text(browser, "#count-failed") == "1"
    assert browser.execute_script("return window.stillTheSamePage === true;")

    browser.find_element(By.LINK_TEXT, name).click()
    _wait(browser, lambda d: d.find_elements(By.ID, "failure"))
    assert "unable to locate package nope" in _text(browser, "#failure")
    _shot(browser, tmp_path, "host-failed")

    _click_and_confirm(browser, "reinstall")
    _wait(browser, lambda d: "expected" in _text(d, "#host-state"))
    assert "Reset for reinstall" in _text(browser, ".notice")
    _shot(browser, tmp_path, "host-reset")
    # The reset host may join once more, under the same name; its page follows.
    browser.execute_script("window.stillTheSamePage = true;")
    again, _ = frontend.joined("i-0browser", local_ipv4="10.0.0.5")
    assert again == name
    _wait(browser, lambda d: "registered" in _text(d, "#host-state"))
    assert browser.execute_script("return window.stillTheSamePage === true;")


def test_create_and_revoke_a_join_token(browser: Any, frontend: Frontend, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    _log_in(browser, frontend, tmp_path)
    browser.find_element(By.LINK_TEXT, "Tokens").click()
    _wait(browser, lambda d: d.find_elements(By.ID, "create-token"))
    browser.find_element(By.ID, "token-description").send_keys("rack 7 reinstall")
    browser.find_element(By.ID, "create").click()
    _wait(browser, lambda d: d.find_elements(By.ID, "new-token"))
    token = _text(browser, "#new-token")
    assert token.startswith("syj_")
    _shot(browser, tmp_path, "token-created")
    assert frontend.join("i-0newtoken", token=token).status_code == 200

    row = next(
        r
        for r in browser.find_elements(By.CSS_SELECTOR, "#join-tokens tbody tr")
        if "rack 7 reinstall" in r.text
    )
    token_id = row.get_attribute("id").removeprefix("token-")
    _click_and_confirm(browser, f"revoke-{token_id}")
    _wait(browser, lambda d: "revoked" in _text(d, f"#token-{token_id} .status"))
    assert token not in browser.page_source
    _shot(browser, tmp_path, "tokens")
    assert frontend.join("i-0late", token=token).status_code == 403


def test_every_page_renders_and_the_profile_editor_explains_mistakes(
    browser: Any, frontend: Frontend, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By

    _log_in(browser, frontend, tmp_path)
    for label in ("Appliances", "Attributes"):
        browser.find_element(By.LINK_TEXT, label).click()
        _wait(browser, lambda d, label=label: label.lower() in d.title.lower())
        _shot(browser, tmp_path, label.lower())
    browser.get(frontend.url + "/ui/appliances/backend")
    box = browser.find_element(By.ID, "profile")
    box.clear()
    box.send_keys("packages: [Not A Package]\n")
    browser.find_element(By.ID, "save-profile").click()
    _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, ".error"))
    assert "packages.0" in _text(browser, ".error")
    _shot(browser, tmp_path, "appliance-error")
    # Phone-sized: the table still reads, without the wide columns.
    browser.set_window_size(390, 844)
    browser.get(frontend.url + "/ui/")
    _wait(browser, lambda d: d.find_elements(By.ID, "hosts"))
    _shot(browser, tmp_path, "hosts-phone")
