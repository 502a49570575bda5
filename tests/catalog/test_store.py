"""Stores (local directory, S3 on a moto server): atomic, content-addressed, idempotent, safe
under concurrent adds."""

from __future__ import annotations

import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from shipyard import record
from shipyard.catalog import records, resolve, sign
from shipyard.catalog.add import add_build, blob_key
from shipyard.catalog.store import Store, open_store
from shipyard.cli.main import main
from shipyard.errors import CatalogError

BuildMaker = Callable[..., Path]


def test_objects_round_trip(store: Store) -> None:
    store.put("a/b.json", b"0123456789")
    assert store.get("a/b.json") == b"0123456789"
    assert b"".join(store.get_range("a/b.json", 2, 5)) == b"2345"
    assert store.size("a/b.json") == 10
    assert store.size("a/missing") is None
    assert store.put_new("a/new", b"first")
    assert not store.put_new("a/new", b"second")
    assert store.get("a/new") == b"first"
    assert set(store.list("a/")) == {"a/b.json", "a/new"}
    store.delete("a/b.json")
    store.delete("a/b.json")  # absent: not an error
    with pytest.raises(CatalogError, match=r"a/b.json does not exist"):
        store.get("a/b.json")


def test_add_stores_blobs_by_sha256_and_is_idempotent(
    store: Store, make_build: BuildMaker, gpg_home: Path
) -> None:
    build = make_build()
    first = add_build(store, build, home=gpg_home)
    assert first.changed and first.version == "20261120"
    for art in record.load(build).formats.values():
        key = blob_key(art.sha256)
        assert store.get(key) == (build / art.path).read_bytes()
    before = store.list("")
    second = add_build(store, build, home=gpg_home)
    assert not second.changed and second.version == first.version
    assert store.list("") == before  # nothing rewritten
    assert len(record.load(build).catalog) == 1


def test_same_day_builds_get_numbered_versions(
    store: Store, make_build: BuildMaker, gpg_home: Path
) -> None:
    versions = [add_build(store, make_build(), home=gpg_home).version for _ in range(3)]
    assert versions == ["20261120", "20261120.1", "20261120.2"]


def test_concurrent_adds_of_different_builds_lose_nothing(
    store: Store, make_build: BuildMaker, gpg_home: Path
) -> None:
    builds = [make_build(flavour=f) for f in ("minimal", "minimal", "minimal", "web", "web", "db")]
    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(lambda b: add_build(store, b, home=gpg_home), builds))
    assert len({(r.product_id, r.version) for r in results}) == 6
    verifier = sign.verifier(gpg_home)
    view = resolve.view_from_store(store, verifier)
    indexed = {(i.product_id, i.version) for imgs in view.products.values() for i in imgs}
    assert indexed == {(r.product_id, r.version) for r in results}
    assert len(records.load_all(store)[0]) == 6


def test_an_incomplete_build_is_refused(
    tmp_path: Path, make_build: BuildMaker, gpg_home: Path
) -> None:
    build = make_build()
    doc = json.loads((build / "build.json").read_text())
    doc["status"] = "failed"
    (build / "build.json").write_text(json.dumps(doc))
    with pytest.raises(CatalogError, match="is failed, not complete"):
        add_build(open_store(str(tmp_path / "c")), build, home=gpg_home)


def test_a_missing_bucket_is_one_clear_sentence(
    moto_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    url = "s3://no-such-bucket-here/x"
    missing = "the bucket no-such-bucket-here does not exist"
    store = open_store(url, endpoint_url=moto_url)
    with pytest.raises(CatalogError, match=missing):
        store.get("streams/v1/index.json")
    # A HEAD or a listing answers a bare 404 for a bucket as for a key.
    for call in (lambda: store.exists("a"), lambda: store.size("a"), lambda: store.list("")):
        with pytest.raises(CatalogError, match=missing):
            call()
    assert main(["catalog", "list", "--store", url, "--endpoint-url", moto_url]) == 4  # not found
    assert capsys.readouterr().err.strip() == f"shipyard: error: {url}: {missing}"


def test_a_missing_object_in_an_existing_bucket_is_only_missing(s3_store: Store) -> None:
    assert s3_store.size("nothing/here") is None and not s3_store.exists("nothing/here")
    with pytest.raises(CatalogError, match="nothing/here does not exist"):
        s3_store.get("nothing/here")
