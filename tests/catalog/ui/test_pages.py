"""The catalog's pages: readable by anyone, changes only after login and with CSRF."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from catalogloop import ebs_entry
from webloop import Visitor

from shipyard.catalog.add import add_build
from shipyard.catalog.api.app import create_app
from shipyard.catalog.api.deps import ServedCatalog
from shipyard.catalog.store import Store, open_store

TOKEN = "catalog-admin-token-for-tests"


@pytest.fixture
def store(tmp_path: Path, make_build: Callable[..., Path], gpg_home: Path) -> Store:
    store = open_store(str(tmp_path / "catalog"))
    add_build(store, make_build(created="2026-11-20T10:00:00+00:00"), home=gpg_home)
    add_build(store, make_build(created="2026-11-21T10:00:00+00:00"), home=gpg_home)
    return store


@pytest.fixture
def served(store: Store, gpg_home: Path, serve: Callable[..., Any]) -> Any:
    return serve(create_app(ServedCatalog(store, gpg_home, TOKEN)))


@pytest.fixture
def visitor(served: Any) -> Iterator[Visitor]:
    v = Visitor(served.url)
    yield v
    v.close()


def _versions(html: str) -> list[str]:
    return re.findall(r'<tr id="version-([^"]+)"', html)


def test_anyone_reads_products_versions_downloads_and_the_resolve_query(
    visitor: Visitor, served: Any
) -> None:
    assert visitor.get("/").headers["location"] == "/ui/"
    page = visitor.get("/ui/")
    assert page.status_code == 200
    assert "script-src 'self'" in page.headers["content-security-policy"]
    versions = _versions(page.text)
    assert len(versions) == 2
    assert (
        "shipyard catalog resolve os=debian release=bookworm arch=amd64 flavour=minimal"
        in page.text
    )
    assert f"{served.url}/api/v1/resolve?os=debian&amp;release=bookworm" in page.text
    assert "sha256:" in page.text and "qcow2" in page.text
    assert "Promote to stable" not in page.text and TOKEN not in page.text


def test_promote_and_deprecate_need_login_and_csrf(visitor: Visitor, served: Any) -> None:
    page = visitor.get("/ui/").text
    product = re.search(r'id="product-([^"]+)"', page).group(1)
    newest = _versions(page)[0]
    action = f"/ui/images/{product}/{newest}"
    refused = visitor.post(action, {"action": "promote", "csrf": visitor.csrf()})
    assert refused.status_code == 303 and "/ui/login" in refused.headers["location"]
    wrong = visitor.submit("/ui/login", "/ui/login", {"token": "nope"})
    assert wrong.status_code == 403
    visitor.login(TOKEN)
    assert visitor.post(action, {"action": "promote"}).status_code == 403
    assert visitor.post(action, {"action": "promote", "csrf": "forged"}).status_code == 403
    assert 'class="badge stable"' not in visitor.get("/ui/").text

    done = visitor.submit("/ui/", action, {"action": "promote"})
    assert done.status_code == 303
    after = visitor.get(done.headers["location"]).text
    assert "promoted to stable" in after
    assert f'<tr id="version-{newest}">' in after and 'class="badge stable"' in after
    resolved = visitor.get("/api/v1/resolve", params={"channel": "stable"}).json()
    assert resolved["version"] == newest

    visitor.submit("/ui/", action, {"action": "deprecate"})
    older = _versions(after)[1]
    assert visitor.get("/api/v1/resolve").json()["version"] == older


def test_amis_per_region_are_listed(
    tmp_path: Path, make_build: Callable[..., Path], gpg_home: Path, serve: Callable[..., Any]
) -> None:
    store = open_store(str(tmp_path / "with-amis"))
    published = [
        ebs_entry({"eu-west-1": ("ami-0123456789abcdef0", "snap-0123456789abcdef0")}),
        ebs_entry({"us-east-1": ("ami-0fedcba9876543210", "snap-0fedcba9876543210")}),
    ]
    add_build(store, make_build(publish=published), home=gpg_home)
    served = serve(create_app(ServedCatalog(store, gpg_home, None)))
    visitor = Visitor(served.url)
    page = visitor.get("/ui/").text
    assert "eu-west-1 <code>ami-0123456789abcdef0</code>" in page
    assert "us-east-1 <code>ami-0fedcba9876543210</code>" in page
    # Without an admin token the server takes no changes, and its pages say so.
    assert "Log in" not in page
    login = visitor.get("/ui/login")
    assert login.status_code == 403 and "accepts no changes" in login.text
    refused = visitor.submit("/ui/login", "/ui/login", {"token": ""})
    assert refused.status_code == 403
    visitor.close()
