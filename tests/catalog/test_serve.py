"""The catalog server over HTTP on loopback, and pulling from it (resume, verification)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from rawserver import RawServer

from shipyard.catalog import client, index, resolve, sign
from shipyard.catalog.add import add_build, blob_key
from shipyard.catalog.api.app import create_app
from shipyard.catalog.api.deps import ServedCatalog
from shipyard.catalog.results import PullResult
from shipyard.catalog.store import Store, open_store
from shipyard.errors import CatalogError

BuildMaker = Callable[..., Path]
BIG = os.urandom(256 * 1024) * 12  # 3 MiB, enough to cut a download in the middle
TOKEN = "s3cret-admin-token"


@pytest.fixture
def catalog(tmp_path: Path, make_build: BuildMaker, gpg_home: Path) -> Store:
    store = open_store(str(tmp_path / "catalog"))
    add_build(store, make_build(content=BIG, formats=("raw",)), home=gpg_home)
    add_build(store, make_build(flavour="web"), home=gpg_home)
    return store


@pytest.fixture
def server(catalog: Store, gpg_home: Path, serve: Callable[..., Any]) -> Any:
    return serve(create_app(ServedCatalog(catalog, gpg_home, TOKEN)))


def raw_item(store: Store, gpg_home: Path) -> dict[str, Any]:
    view = resolve.view_from_store(store, sign.verifier(gpg_home))
    image = resolve.resolve(view, resolve.parse_filters(["flavour=minimal", "ftype=raw"]))
    assert image is not None
    (item,) = image.downloads.values()
    return item


def test_blobs_honour_range_etag_and_carry_their_sha256(
    server: Any, catalog: Store, gpg_home: Path
) -> None:
    item = raw_item(catalog, gpg_home)
    url = f"{server.url}/{item['path']}"
    whole = httpx.get(url)
    assert whole.status_code == 200 and whole.content == BIG + b"raw"
    assert whole.headers["x-checksum-sha256"] == item["sha256"]
    assert whole.headers["etag"] == f'"{item["sha256"]}"'
    assert whole.headers["accept-ranges"] == "bytes"
    part = httpx.get(url, headers={"Range": "bytes=100-199"})
    assert part.status_code == 206 and part.content == BIG[100:200]
    assert part.headers["content-range"] == f"bytes 100-199/{item['size']}"
    tail = httpx.get(url, headers={"Range": "bytes=-3"})
    assert tail.status_code == 206 and tail.content == b"raw"
    beyond = httpx.get(url, headers={"Range": f"bytes={item['size']}-"})
    assert beyond.status_code == 416
    assert httpx.get(url, headers={"If-None-Match": whole.headers["etag"]}).status_code == 304
    stale = httpx.get(url, headers={"Range": "bytes=0-9", "If-Range": '"other"'})
    assert stale.status_code == 200 and len(stale.content) == item["size"]
    head = httpx.head(url)
    assert head.status_code == 200 and int(head.headers["content-length"]) == item["size"]
    assert httpx.get(f"{server.url}/blobs/sha256/00/{'0' * 64}").status_code == 404


def test_index_files_are_served_signed(server: Any, gpg_home: Path) -> None:
    resp = httpx.get(f"{server.url}/{index.INDEX.removesuffix('.json')}.sjson")
    assert resp.status_code == 200
    payload = sign.verifier(gpg_home).verify(resp.content, "index")
    assert json.loads(payload)["format"] == "index:1.0"
    assert "etag" in resp.headers and "x-checksum-sha256" in resp.headers


def test_resolve_and_list_api(server: Any) -> None:
    resp = httpx.get(f"{server.url}/api/v1/resolve", params={"flavour": "web", "ftype": "qcow2"})
    assert resp.status_code == 200
    body = resp.json()
    assert body["flavour"] == "web" and list(body["downloads"]) == ["disk.qcow2"]
    resp = httpx.get(f"{server.url}/api/v1/resolve", params={"filter": ["flavour~^min"]})
    assert resp.json()["flavour"] == "minimal"
    missing = httpx.get(f"{server.url}/api/v1/resolve", params={"flavour": "db"})
    assert missing.status_code == 404 and "no image matches flavour=db" in missing.text
    bad = httpx.get(f"{server.url}/api/v1/resolve", params={"filter": "flavour~("})
    assert bad.status_code == 400
    listed = httpx.get(f"{server.url}/api/v1/images").json()
    assert sorted(i["flavour"] for i in listed) == ["minimal", "web"]
    spec = httpx.get(f"{server.url}/openapi.json").json()
    assert "/api/v1/resolve" in spec["paths"] and "/api/v1/images/{version}" in spec["paths"]
    # No page that would load its scripts from a CDN (blank offline).
    assert httpx.get(f"{server.url}/docs").status_code == 404
    assert httpx.get(f"{server.url}/redoc").status_code == 404


def test_regex_filters_from_anyone_have_a_bounded_cost(server: Any) -> None:
    images = f"{server.url}/api/v1/images"
    hostile = httpx.get(images, params={"filter": r"build_id~^([\w-]|[\w-])*!"}, timeout=30)
    assert hostile.status_code == 200 and hostile.json() == []
    backref = httpx.get(images, params={"filter": r"build_id~(\d)\1"})
    assert backref.status_code == 400
    assert "is not an RE2 regular expression" in backref.json()["detail"]
    long = httpx.get(images, params={"filter": "build_id~" + "a" * 300})
    assert long.status_code == 400 and "at most 256" in long.json()["detail"]


def test_changes_need_the_admin_token(server: Any) -> None:
    version = httpx.get(f"{server.url}/api/v1/resolve", params={"flavour": "web"}).json()["version"]
    url = f"{server.url}/api/v1/images/{version}"
    body = {"deprecated": True, "product": resolve.records.product_id("bookworm", "amd64", "web")}
    assert httpx.post(url, json=body).status_code == 401
    wrong = httpx.post(url, json=body, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    ok = httpx.post(url, json=body, headers={"Authorization": f"Bearer {TOKEN}"})
    assert ok.status_code == 200, ok.text
    gone = httpx.get(f"{server.url}/api/v1/resolve", params={"flavour": "web"})
    assert gone.status_code == 404


def test_a_server_without_token_accepts_no_changes(
    catalog: Store, gpg_home: Path, serve: Callable[..., Any]
) -> None:
    served = serve(create_app(ServedCatalog(catalog, gpg_home, None)))
    resp = httpx.post(f"{served.url}/api/v1/images/20261120", json={"deprecated": True})
    assert resp.status_code == 403


class CuttingProxy:
    """A TCP proxy that drops each connection after ``limit`` bytes from the server."""

    def __init__(self, target_port: int, limit: int) -> None:
        self.target_port = target_port
        self.limit = limit
        self.server = RawServer(self._serve)
        self.url = f"http://127.0.0.1:{self.server.port}"

    def _serve(self, conn: socket.socket) -> None:
        upstream = socket.create_connection(("127.0.0.1", self.target_port))

        def forward() -> None:
            try:
                while data := conn.recv(65536):
                    upstream.sendall(data)
            except OSError:
                pass

        threading.Thread(target=forward, daemon=True).start()
        sent = 0
        try:
            while sent < self.limit and (data := upstream.recv(65536)):
                data = data[: self.limit - sent]
                conn.sendall(data)
                sent += len(data)
        except OSError:
            pass
        finally:
            # shutdown, not just close: the forwarding thread still blocks in recv
            for sock in (conn, upstream):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()

    def close(self) -> None:
        self.server.close()


@pytest.fixture
def cutting_proxy(server: Any) -> Iterator[CuttingProxy]:
    proxy = CuttingProxy(server.port, limit=1024 * 1024)
    yield proxy
    proxy.close()


def pull(url: str, gpg_home: Path, out: Path, filters: list[str]) -> PullResult:
    verifier = sign.verifier(gpg_home)
    remote = client.RemoteCatalog(url, verifier)
    try:
        return client.pull(remote, resolve.parse_filters(filters), out)
    finally:
        remote.close()
        verifier.close()


def test_pull_resumes_a_download_cut_short(
    server: Any, cutting_proxy: CuttingProxy, gpg_home: Path, tmp_path: Path
) -> None:
    out = tmp_path / "pulled"
    with pytest.raises(CatalogError, match=r"was cut short after \d+ of \d+ bytes"):
        pull(cutting_proxy.url, gpg_home, out, ["flavour=minimal"])
    part = out / "disk.raw.part"
    assert 0 < part.stat().st_size < len(BIG)
    had = part.stat().st_size
    result = pull(server.url, gpg_home, out, ["flavour=minimal"])
    (got,) = result.files
    assert got.resumed_from == had
    data = (out / "disk.raw").read_bytes()
    assert data == BIG + b"raw" and hashlib.sha256(data).hexdigest() == got.sha256
    assert not part.exists()
    again = pull(server.url, gpg_home, out, ["flavour=minimal"])
    assert again.files[0].resumed_from is None  # already whole: nothing fetched


def test_pull_refuses_a_tampered_blob(
    server: Any, catalog: Store, gpg_home: Path, tmp_path: Path
) -> None:
    item = raw_item(catalog, gpg_home)
    blob = catalog.get(item["path"])
    catalog.put(item["path"], b"X" + blob[1:])
    with pytest.raises(CatalogError, match=r"disk\.raw .* was refused: its sha256 does not match"):
        pull(server.url, gpg_home, tmp_path / "out", ["flavour=minimal"])
    assert not (tmp_path / "out" / "disk.raw").exists()
    assert not (tmp_path / "out" / "disk.raw.part").exists()


def test_pull_refuses_a_tampered_index(
    server: Any, catalog: Store, gpg_home: Path, tmp_path: Path
) -> None:
    key = index.products_path(index.DOWNLOADS).removesuffix(".json") + ".sjson"
    item = raw_item(catalog, gpg_home)
    forged = catalog.get(key).replace(item["sha256"].encode(), blob_key("f" * 64)[-64:].encode())
    catalog.put(key, forged)
    with pytest.raises(CatalogError, match=r"\.sjson was refused: its signature is bad"):
        pull(server.url, gpg_home, tmp_path / "out", ["flavour=minimal"])


def test_the_server_sees_builds_added_while_it_runs(
    server: Any,
    catalog: Store,
    make_build: BuildMaker,
    gpg_home: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from shipyard.catalog.api import deps

    monkeypatch.setattr(deps, "RECHECK_SECONDS", 0.0)
    assert httpx.get(f"{server.url}/api/v1/resolve", params={"flavour": "db"}).status_code == 404
    add_build(catalog, make_build(flavour="db"), home=gpg_home)
    found = httpx.get(f"{server.url}/api/v1/resolve", params={"flavour": "db"})
    assert found.status_code == 200 and found.json()["flavour"] == "db"


def test_an_s3_backed_server_serves_ranges_and_pulls(
    s3_store: Store,
    make_build: BuildMaker,
    gpg_home: Path,
    serve: Callable[..., Any],
    tmp_path: Path,
) -> None:
    add_build(s3_store, make_build(content=BIG, formats=("raw",)), home=gpg_home)
    served = serve(create_app(ServedCatalog(s3_store, gpg_home, None)))
    item = raw_item(s3_store, gpg_home)
    part = httpx.get(f"{served.url}/{item['path']}", headers={"Range": "bytes=1000-1999"})
    assert part.status_code == 206 and part.content == BIG[1000:2000]
    result = pull(served.url, gpg_home, tmp_path / "out", ["flavour=minimal"])
    assert (tmp_path / "out" / "disk.raw").read_bytes() == BIG + b"raw"
    assert result.files[0].sha256 == item["sha256"]


@pytest.mark.parametrize(
    "path", ["/streams/v1/%00", "/streams/v1/..", "/blobs/sha256/%00/x", "/blobs/sha256/../x"]
)
def test_odd_paths_are_not_found(server: Any, path: str) -> None:
    assert httpx.get(f"{server.url}{path}").status_code == 404


def test_odd_change_requests_are_refused_clearly(server: Any) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    resp = httpx.post(
        f"{server.url}/api/v1/images/20261120", json={"product": "../x"}, headers=headers
    )
    assert resp.status_code == 400 and "is not a product id" in resp.text


HUGE = "9" * 5000
RANGES = [
    # Range header, status, first bytes of the body or a phrase of the 416's sentence
    (f"bytes={HUGE}-", 416, "starts beyond the object's"),
    (f"bytes={HUGE}-{HUGE}", 416, "starts beyond the object's"),
    (f"bytes=0-{HUGE}", 206, BIG[:10]),
    (f"bytes=-{HUGE}", 206, BIG[:10]),
    ("bytes=abc", 416, "is not a byte range"),
    ("bytes=1-x", 416, "is not a byte range"),
    ("bytes=-", 416, "is not a byte range"),
    ("bytes=", 416, "is not a byte range"),
    ("bytes=1-2-3", 416, "is not a byte range"),
    ("bytes=--1", 416, "is not a byte range"),
    ("bytes=+1-2", 416, "is not a byte range"),
    ("bytes=\u0661-2", 416, "is not a byte range"),  # an Arabic-Indic digit, which int() takes
    ("bytes=-0", 416, "the last 0 bytes"),
    ("bytes=9-1", 416, "ends before it starts"),
    ("bytes=0-1,5-6", 200, BIG[:10]),  # several ranges: the whole object, as RFC 9110 allows
    ("items=0-1", 200, BIG[:10]),  # a unit we do not know is ignored (RFC 9110 says must)
    ("bytes", 416, "is not a byte range"),
    (" bytes = 2-3 ", 206, BIG[2:4]),
]


@pytest.mark.parametrize(("header", "status", "expect"), RANGES, ids=lambda v: str(v)[:24])
def test_malformed_ranges_get_a_sentence_never_a_500(
    server: Any, catalog: Store, gpg_home: Path, header: str, status: int, expect: Any
) -> None:
    item = raw_item(catalog, gpg_home)
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as conn:
        # A raw request: HTTP clients refuse to send some of these headers.
        request = f"GET /{item['path']} HTTP/1.1\r\nHost: x\r\nRange: {header}\r\n"
        conn.sendall(request.encode() + b"Connection: close\r\n\r\n")
        answer = b""
        while chunk := conn.recv(1 << 20):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.split(b" ")[1] == str(status).encode()
    if status == 416:
        assert expect in body.decode() and body.count(b"\n") == 1
        assert f"content-range: bytes */{item['size']}".encode() in head.lower()
        assert b"Traceback" not in body
    else:
        assert body.startswith(expect)


def test_statuses_follow_the_kind_of_error(
    tmp_path: Path, gpg_home: Path, serve: Callable[..., Any]
) -> None:
    empty = serve(create_app(ServedCatalog(open_store(str(tmp_path / "empty")), gpg_home, "t")))
    nothing = httpx.get(f"{empty.url}/api/v1/resolve", params={"flavour": "minimal"})
    assert nothing.status_code == 404 and "is it empty?" in nothing.json()["detail"]
    admin = {"Authorization": "Bearer t"}
    bad = httpx.post(f"{empty.url}/api/v1/images/2026", json={"channel": "x"}, headers=admin)
    assert bad.status_code == 400 and "is not a channel" in bad.json()["detail"]
    missing = httpx.post(f"{empty.url}/api/v1/images/2026", json={}, headers=admin)
    assert missing.status_code == 404 and "has no version 2026" in missing.json()["detail"]
