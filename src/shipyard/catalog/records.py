"""One record per catalogued version: the source of truth the index is generated from.

Records live at ``records/<product id>/<version>.json``; each is written once
(create-if-absent), so concurrent adds of different builds never overwrite each other.
"""

from __future__ import annotations

import json
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from shipyard.catalog.store import Store
from shipyard.errors import CatalogError

PRODUCT_PREFIX = "org.shipyard.images"
RECORDS = "records/"
CACHE = "cache/records.json"
VERSION = re.compile(r"^(\d{8})(?:\.(\d+))?$")

Channel = Literal["daily", "stable"]


class Download(BaseModel):
    model_config = ConfigDict(frozen=True)

    ftype: str
    path: str  # key of the blob in the store
    size: int
    sha256: str


class Ami(BaseModel):
    model_config = ConfigDict(frozen=True)

    region: str
    id: str
    snapshot_id: str | None = None
    virt: str = "hvm"
    root_store: str = "ebs"
    boot_mode: str | None = None


class VersionRecord(BaseModel):
    """What the catalog knows about one version of one product."""

    model_config = ConfigDict(frozen=True)

    product_id: str
    version: str
    os: str = "debian"
    release: str
    arch: str
    flavour: str
    channel: Channel = "daily"
    deprecated: bool = False
    build_id: str
    name: str
    created: str
    downloads: dict[str, Download] = {}
    amis: dict[str, Ami] = {}
    packages: dict[str, str] = {}


def product_id(release: str, arch: str, flavour: str, os_name: str = "debian") -> str:
    return f"{PRODUCT_PREFIX}:{os_name}:{release}:{arch}:{flavour}"


def version_key(version: str) -> tuple[int, int]:
    """Sort key of a ``YYYYMMDD[.n]`` version."""
    match = VERSION.match(version)
    if not match:
        raise CatalogError(f"{version!r} is not a catalog version (YYYYMMDD or YYYYMMDD.n)")
    return int(match.group(1)), int(match.group(2) or 0)


def record_key(product: str, version: str) -> str:
    return f"{RECORDS}{product}/{version}.json"


def encode(record: VersionRecord) -> bytes:
    return json.dumps(record.model_dump(mode="json"), indent=1, sort_keys=True).encode() + b"\n"


def decode(key: str, data: bytes) -> VersionRecord:
    try:
        return VersionRecord.model_validate_json(data)
    except ValidationError as exc:
        raise CatalogError(f"catalog record {key} is damaged: {exc.errors()[0]['msg']}") from exc


def load_all(store: Store) -> tuple[list[VersionRecord], dict[str, str]]:
    """Every record in the store, and the tags of the record objects read.

    A cache object keyed by each record's tag spares re-reading unchanged records
    (10,000 GETs on S3 otherwise); it is only a cache, checked against the listing.
    """
    tags = {k: t for k, t in store.list(RECORDS).items() if k.endswith(".json")}
    cached = _read_cache(store)
    found: list[VersionRecord] = []
    fresh: dict[str, Any] = {}
    for key in sorted(tags):
        hit = cached.get(key)
        if isinstance(hit, dict) and hit.get("tag") == tags[key]:
            try:
                found.append(VersionRecord.model_validate(hit["record"]))
                fresh[key] = hit
                continue
            except (ValidationError, KeyError):
                pass
        rec = decode(key, store.get(key))
        found.append(rec)
        fresh[key] = {"tag": tags[key], "record": rec.model_dump(mode="json")}
    if fresh.keys() != cached.keys() or any(
        cached[k].get("tag") != v["tag"] for k, v in fresh.items() if isinstance(cached[k], dict)
    ):
        store.put(CACHE, json.dumps(fresh, separators=(",", ":")).encode())
    return found, tags


def _read_cache(store: Store) -> dict[str, Any]:
    if not store.exists(CACHE):
        return {}
    try:
        data = json.loads(store.get(CACHE))
    except (CatalogError, json.JSONDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def load_product(store: Store, product: str) -> list[VersionRecord]:
    """The versions of one product, newest first."""
    prefix = f"{RECORDS}{product}/"
    keys = [k for k in store.list(prefix) if k.endswith(".json")]
    found = [decode(k, store.get(k)) for k in keys]
    return sorted(found, key=lambda r: version_key(r.version), reverse=True)


def find(store: Store, version: str, product: str | None = None) -> list[VersionRecord]:
    """Records whose version (or build id) is ``version``, in one product or in all."""
    prefix = f"{RECORDS}{product}/" if product else RECORDS
    found = []
    for key in store.list(prefix):
        if key.endswith(f"/{version}.json"):
            found.append(decode(key, store.get(key)))
    if not found:
        records, _ = load_all(store)
        found = [
            r for r in records if r.build_id == version and (not product or r.product_id == product)
        ]
    return found
