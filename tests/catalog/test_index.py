"""The simplestreams index: its structure, its signature, and refusing tampered copies."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from catalogloop import ebs_entry

from shipyard.catalog import index, resolve, sign
from shipyard.catalog.add import add_build
from shipyard.catalog.store import Store, open_store
from shipyard.errors import CatalogError

BuildMaker = Callable[..., Path]
PUBLISHED = [
    ebs_entry(
        {
            "us-east-1": ("ami-0123456789abcdef0", "snap-0123456789abcdef0"),
            "eu-west-1": ("ami-0fedcba987654321f", "snap-0fedcba987654321f"),
        }
    )
]
PRODUCT_ID = re.compile(r"^org\.shipyard\.images:debian:[a-z]+:[a-z0-9]+:[a-z0-9._-]+$")


def check_products(doc: dict[str, Any], datatype: str, item_keys: set[str]) -> None:
    """The products:1.0 shape simplestreams readers rely on."""
    assert doc["format"] == "products:1.0"
    assert doc["datatype"] == datatype
    assert isinstance(doc["updated"], str) and doc["content_id"]
    for pid, product in doc["products"].items():
        assert PRODUCT_ID.match(pid)
        assert {"os", "release", "arch", "flavour", "versions"} <= set(product)
        for version, entry in product["versions"].items():
            assert re.match(r"^\d{8}(\.\d+)?$", version)
            assert entry["items"], f"{pid} {version} has no items"
            for item in entry["items"].values():
                assert item_keys <= set(item), item


@pytest.fixture
def catalog(tmp_path: Path, make_build: BuildMaker, gpg_home: Path) -> Store:
    store = open_store(str(tmp_path / "catalog"))
    add_build(store, make_build(publish=PUBLISHED), home=gpg_home)
    add_build(store, make_build(flavour="web", formats=("raw",)), home=gpg_home)
    return store


def test_index_has_the_simplestreams_structure(catalog: Store) -> None:
    idx = json.loads(catalog.get(index.INDEX))
    assert idx["format"] == "index:1.0"
    assert set(idx["index"]) == {index.DOWNLOADS, index.IMAGE_IDS}
    for content_id, entry in idx["index"].items():
        assert entry["format"] == "products:1.0"
        assert entry["path"] == f"streams/v1/{content_id}.json"
        doc = json.loads(catalog.get(entry["path"]))
        assert doc["content_id"] == content_id
        assert sorted(doc["products"]) == entry["products"]
    downloads = json.loads(catalog.get(index.products_path(index.DOWNLOADS)))
    check_products(downloads, "image-downloads", {"ftype", "path", "size", "sha256"})
    for product in downloads["products"].values():
        for entry in product["versions"].values():
            for item in entry["items"].values():
                blob = catalog.get(item["path"])
                assert len(blob) == item["size"]
    ids = json.loads(catalog.get(index.products_path(index.IMAGE_IDS)))
    check_products(ids, "image-ids", {"id", "region", "virt", "root_store"})
    (product,) = ids["products"].values()
    (entry,) = product["versions"].values()
    assert entry["items"]["us-east-1"]["id"] == "ami-0123456789abcdef0"
    assert entry["items"]["us-east-1"]["boot_mode"] == "uefi-preferred"
    assert entry["items"]["eu-west-1"]["virt"] == "hvm"


def test_every_json_has_a_clearsigned_sjson(catalog: Store, gpg_home: Path) -> None:
    verifier = sign.verifier(gpg_home)
    for key in catalog.list("streams/v1/"):
        if key.endswith(".json"):
            signed = catalog.get(key.removesuffix(".json") + ".sjson")
            assert signed.startswith(b"-----BEGIN PGP SIGNED MESSAGE-----")
            assert json.loads(verifier.verify(signed, key)) == json.loads(catalog.get(key))


def test_a_tampered_index_is_refused(catalog: Store, gpg_home: Path) -> None:
    key = index.products_path(index.DOWNLOADS).removesuffix(".json") + ".sjson"
    signed = catalog.get(key)
    catalog.put(key, signed.replace(b'"minimal"', b'"evil"', 1))
    with pytest.raises(CatalogError, match=r"was refused: its signature is bad"):
        resolve.view_from_store(catalog, sign.verifier(gpg_home))


def test_an_index_signed_by_another_key_is_refused(
    catalog: Store, other_gpg_home: Path, gpg_home: Path
) -> None:
    index.regenerate(catalog, other_gpg_home)
    with pytest.raises(CatalogError, match="signed by an unknown key"):
        resolve.view_from_store(catalog, sign.verifier(gpg_home))


def test_clients_can_trust_an_exported_public_key(
    catalog: Store, gpg_home: Path, tmp_path: Path
) -> None:
    key_file = tmp_path / "catalog.asc"
    key_file.write_text(sign.export_public(gpg_home))
    verifier = sign.verifier(key_file)
    try:
        view = resolve.view_from_store(catalog, verifier)
        home = verifier.home
    finally:
        verifier.close()
    assert len(view.products) == 2
    # gpg starts an agent for the throwaway key ring; it must not outlive the verifier.
    assert not home.exists()
    assert not [cmd for cmd in _process_commands() if str(home) in cmd]


def _process_commands() -> list[str]:
    commands = []
    for entry in Path("/proc").iterdir():
        try:
            commands.append((entry / "cmdline").read_bytes().replace(b"\0", b" ").decode())
        except (OSError, UnicodeDecodeError):
            continue
    return commands
