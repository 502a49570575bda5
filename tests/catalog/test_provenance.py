"""A build's signed provenance travels with it: `catalog add` stores it, `pull` checks it."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from shipyard import record
from shipyard.build.provenance import PROVENANCE_NAME, SIGNATURE_NAME, write_provenance
from shipyard.catalog import client, resolve, sign
from shipyard.catalog.add import add_build
from shipyard.catalog.api.app import create_app
from shipyard.catalog.api.deps import ServedCatalog
from shipyard.catalog.results import PullResult
from shipyard.catalog.store import Store, open_store
from shipyard.errors import CatalogError

BuildMaker = Callable[..., Path]


def _with_provenance(build_dir: Path) -> Path:
    rec = record.load(build_dir)
    rec.provenance = write_provenance(build_dir, rec, None)
    record.write(build_dir, rec)
    return build_dir


@pytest.fixture
def catalog(tmp_path: Path, make_build: BuildMaker, gpg_home: Path) -> Store:
    store = open_store(str(tmp_path / "catalog"))
    add_build(store, _with_provenance(make_build(formats=("raw",))), home=gpg_home)
    return store


def _pull(url: str, gpg_home: Path, out: Path) -> PullResult:
    verifier = sign.verifier(gpg_home)
    remote = client.RemoteCatalog(url, verifier)
    try:
        return client.pull(remote, resolve.parse_filters(["flavour=minimal"]), out)
    finally:
        remote.close()
        verifier.close()


def _provenance_item(store: Store, gpg_home: Path, ftype: str) -> dict[str, Any]:
    view = resolve.view_from_store(store, sign.verifier(gpg_home))
    image = resolve.resolve(view, resolve.parse_filters(["flavour=minimal", f"ftype={ftype}"]))
    assert image is not None
    (item,) = image.downloads.values()
    return item


def test_pull_fetches_and_checks_the_signed_provenance(
    catalog: Store, gpg_home: Path, serve: Callable[..., Any], tmp_path: Path
) -> None:
    server = serve(create_app(ServedCatalog(catalog, gpg_home, "token")))
    out = tmp_path / "pulled"

    result = _pull(server.url, gpg_home, out)

    assert result.provenance == str(out / PROVENANCE_NAME)
    assert (out / SIGNATURE_NAME).read_text().startswith("-----BEGIN PGP SIGNATURE-----")
    subjects = json.loads((out / PROVENANCE_NAME).read_text())["subject"]
    assert {"name": "disk.raw", "digest": {"sha256": result.files[0].sha256}} in subjects


def test_pull_refuses_a_tampered_provenance(
    catalog: Store, gpg_home: Path, serve: Callable[..., Any], tmp_path: Path
) -> None:
    item = _provenance_item(catalog, gpg_home, "provenance")
    statement = json.loads(catalog.get(item["path"]))
    statement["subject"][0]["digest"]["sha256"] = "f" * 64
    catalog.put(item["path"], json.dumps(statement).encode())
    server = serve(create_app(ServedCatalog(catalog, gpg_home, "token")))

    with pytest.raises(CatalogError, match=rf"{PROVENANCE_NAME} .* was refused"):
        _pull(server.url, gpg_home, tmp_path / "out")
