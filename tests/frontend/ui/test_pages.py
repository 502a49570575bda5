"""The frontend's dashboard over HTTP: login, CSRF, headers, and no secret in any page."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from frontloop import Frontend
from webloop import Visitor

from shipyard.errors import UsageError
from shipyard.frontend.profile_file import load_profile

PAGES = ("/ui/", "/ui/hosts/live", "/ui/tokens", "/ui/appliances", "/ui/attributes")


@pytest.fixture
def visitor(frontend: Frontend) -> Iterator[Visitor]:
    v = Visitor(frontend.url)
    yield v
    v.close()


def test_root_leads_to_the_dashboard_and_it_to_the_login(visitor: Visitor) -> None:
    root = visitor.get("/")
    assert root.status_code == 303 and root.headers["location"] == "/ui/"
    for page in PAGES:
        answer = visitor.get(page)
        assert answer.status_code == 303, page
        assert answer.headers["location"].startswith("/ui/login?next=")
    # The page's poller is told to log in again rather than sent a login page.
    assert visitor.get("/ui/hosts/live", headers={"X-Shipyard-Live": "1"}).status_code == 401


def test_login_sets_a_strict_http_only_secure_cookie_without_the_token(
    visitor: Visitor, frontend: Frontend
) -> None:
    page = visitor.get("/ui/login")
    assert page.status_code == 200
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert not re.search(r"<script(?![^>]*\ssrc=)|\son[a-z]+=", page.text), "inline script"
    answer = visitor.login(frontend.admin_token)
    cookie = answer.headers["set-cookie"]
    assert "HttpOnly" in cookie and "Secure" in cookie and "SameSite=strict" in cookie
    assert frontend.admin_token not in cookie
    assert frontend.admin_token.removeprefix("sya_") not in visitor.cookie
    for page_path in PAGES:
        assert visitor.get(page_path).status_code == 200, page_path


def test_a_wrong_token_is_refused_with_a_sentence(visitor: Visitor) -> None:
    answer = visitor.submit("/ui/login", "/ui/login", {"token": "sya_nope"})
    assert answer.status_code == 403
    assert "not a live admin token" in answer.text
    assert visitor.get("/ui/").status_code == 303


def test_forms_without_the_csrf_token_are_refused(visitor: Visitor, frontend: Frontend) -> None:
    name, _ = frontend.joined("i-0csrf")
    visitor.login(frontend.admin_token)
    before = frontend.snapshot()
    for action, fields in (
        (f"/ui/hosts/{name}/reset", {}),
        (f"/ui/hosts/{name}/remove", {}),
        ("/ui/tokens", {"kind": "admin"}),
        ("/ui/tokens/1/revoke", {"kind": "admin"}),
        ("/ui/attributes", {"key": "a", "value": "b"}),
    ):
        for csrf in ({}, {"csrf": "forged"}):
            answer = visitor.post(action, {**fields, **csrf})
            assert answer.status_code == 403, action
            assert "<h1>Refused</h1>" in answer.text
        other_site = visitor.post(
            action,
            {**fields, "csrf": visitor.csrf("/ui/")},
            headers={"Origin": "https://evil.example"},
        )
        assert other_site.status_code == 403
        sandboxed = visitor.post(
            action, {**fields, "csrf": visitor.csrf("/ui/")}, headers={"Origin": "null"}
        )
        assert sandboxed.status_code == 403
    stuffed = {f"f{i}": "x" for i in range(100)}
    assert (
        visitor.post("/ui/attributes", {**stuffed, "csrf": visitor.csrf("/ui/")}).status_code == 403
    )
    assert frontend.snapshot() == before


def test_a_revoked_admin_token_ends_its_sessions(visitor: Visitor, frontend: Frontend) -> None:
    visitor.login(frontend.admin_token)
    made = visitor.submit("/ui/tokens", "/ui/tokens", {"kind": "admin", "description": "x"})
    assert made.status_code == 201
    new = re.search(r'id="new-token">([^<]+)<', made.text).group(1)
    second = Visitor(frontend.url)
    second.login(new)
    token_id = re.findall(r'id="revoke-(\d+)"', made.text)[-1]
    assert (
        visitor.submit("/ui/tokens", f"/ui/tokens/{token_id}/revoke", {"kind": "admin"}).status_code
        == 303
    )
    assert second.get("/ui/").status_code == 303
    second.close()


def test_no_page_shows_a_join_token_host_token_or_shadow_value(
    visitor: Visitor, frontend: Frontend
) -> None:
    secret = "hunter2-do-not-show"
    name, host_token = frontend.joined("i-0secret")
    visitor.login(frontend.admin_token)
    assert (
        visitor.submit(
            f"/ui/hosts/{name}",
            f"/ui/hosts/{name}/attributes",
            {"key": "db_password", "value": secret, "shadow": "on"},
        ).status_code
        == 303
    )
    frontend.http.put(
        "/api/v1/appliances/backend/profile",
        json={"files": [{"path": "/etc/db", "content": "pw={{ attrs.db_password }}"}]},
        headers=frontend.admin(),
    ).raise_for_status()
    report = frontend.http.post(
        "/api/v1/self/status",
        json={"state": "failed", "step": "db", "output_tail": f"login with {secret} failed"},
        headers={"Authorization": f"Bearer {host_token}"},
    )
    assert report.status_code == 200, report.text
    pages = [*PAGES, f"/ui/hosts/{name}", "/ui/appliances/backend"]
    for page in pages:
        text = visitor.get(page).text
        for leak in (secret, host_token, frontend.join_token, frontend.admin_token):
            assert leak not in text, (page, leak[:4])
    host_page = visitor.get(f"/ui/hosts/{name}").text
    assert "pw=********" in host_page and "login with ******** failed" in host_page


def test_live_fragment_answers_304_until_a_host_changes(
    visitor: Visitor, frontend: Frontend
) -> None:
    visitor.login(frontend.admin_token)
    etag = visitor.get("/ui/hosts/live").headers["etag"]
    again = visitor.get("/ui/hosts/live", headers={"If-None-Match": etag})
    if again.status_code == 200:  # a minute turned in between: the ages may read otherwise
        etag = again.headers["etag"]
        again = visitor.get("/ui/hosts/live", headers={"If-None-Match": etag})
    assert again.status_code == 304
    name, _ = frontend.joined("i-0live")
    changed = visitor.get("/ui/hosts/live", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and name in changed.text
    assert 'id="count-registered">1<' in changed.text


def test_profile_mistakes_are_worded_as_the_cli_words_them(
    visitor: Visitor, frontend: Frontend, tmp_path: Path
) -> None:
    bad = "packages: [Not A Package]\nfiles:\n  - {path: etc/x}\n"
    profile_file = tmp_path / "profile.yml"
    profile_file.write_text(bad)
    with pytest.raises(UsageError) as cli:
        load_profile(profile_file)
    visitor.login(frontend.admin_token)
    page = "/ui/appliances/backend"
    answer = visitor.submit(page, f"{page}/profile", {"profile": bad})
    assert answer.status_code == 422
    assert str(cli.value).replace(f" {profile_file}", "") in html.unescape(answer.text)
    assert "Not A Package" in answer.text  # the admin's text stays in the box
    good = "packages: [nginx]\nfiles:\n  - {path: /etc/motd, content: 'hi {{ host.name }}'}\n"
    assert visitor.submit(page, f"{page}/profile", {"profile": good}).status_code == 303
    stored = frontend.http.get("/api/v1/appliances/backend", headers=frontend.admin()).json()
    assert stored["profile"]["packages"] == ["nginx"]


def test_attributes_are_set_and_unset_at_every_scope(visitor: Visitor, frontend: Frontend) -> None:
    name, _ = frontend.joined("i-0attrs")
    visitor.login(frontend.admin_token)
    scopes = {
        "global": ("/ui/attributes", "/ui/attributes"),
        "appliance": ("/ui/appliances/backend", "/ui/appliances/backend/attributes"),
        "host": (f"/ui/hosts/{name}", f"/ui/hosts/{name}/attributes"),
    }
    for scope, (page, action) in scopes.items():
        done = visitor.submit(page, action, {"key": "ntp", "value": f"ntp.{scope}"})
        assert done.status_code == 303, done.text
    resolved = frontend.http.get(f"/api/v1/hosts/{name}/attributes", headers=frontend.admin())
    assert {a["attr"]: (a["value"], a["scope"]) for a in resolved.json()}["ntp"] == (
        "ntp.host",
        "host",
    )
    bad = visitor.submit("/ui/attributes", "/ui/attributes", {"key": "no spaces", "value": "x"})
    assert (
        bad.status_code == 422 and "attribute key: &#39;no spaces&#39; is not allowed" in bad.text
    )
    for page, action in scopes.values():
        assert visitor.submit(page, f"{action}/unset", {"key": "ntp"}).status_code == 303
    resolved = frontend.http.get(f"/api/v1/hosts/{name}/attributes", headers=frontend.admin())
    assert "ntp" not in {a["attr"] for a in resolved.json()}
    missing = visitor.submit("/ui/attributes", "/ui/attributes/unset", {"key": "ntp"})
    assert missing.status_code == 404 and "there is no global attribute" in missing.text


def test_a_login_page_over_plain_http_elsewhere_than_loopback_says_why_it_cannot_work(
    visitor: Visitor, frontend: Frontend
) -> None:
    assert 'id="plain-http"' not in visitor.get("/ui/login").text
    elsewhere = visitor.get("/ui/login", headers={"Host": "10.1.2.3:8470"})
    assert 'id="plain-http"' in elsewhere.text and "--tls-cert" in elsewhere.text


def test_hosts_filter_by_appliance_and_state_with_counts_per_state(
    visitor: Visitor, frontend: Frontend
) -> None:
    frontend.http.post(
        "/api/v1/appliances", json={"name": "compute"}, headers=frontend.admin()
    ).raise_for_status()
    backend, _ = frontend.joined("i-0back")
    compute, token = frontend.joined("i-0comp", appliance="compute")
    frontend.http.post(
        "/api/v1/self/status",
        json={"state": "installing", "step": "disks"},
        headers={"Authorization": f"Bearer {token}"},
    ).raise_for_status()
    visitor.login(frontend.admin_token)

    def shown(query: str) -> list[str]:
        page = visitor.get(f"/ui/{query}")
        assert page.status_code == 200
        return re.findall(r'<tr id="host-([^"]+)"', page.text)

    assert shown("") == [backend, compute]
    assert shown("?appliance=compute") == [compute]
    assert shown("?state=registered") == [backend]
    assert shown("?appliance=backend&state=installing") == []
    counts = visitor.get("/ui/?appliance=compute").text
    assert 'id="count-installing">1<' in counts and 'id="count-registered">0<' in counts
    assert "0 of 1 installed, 1 on their way" in counts
