"""Adding a build to a catalog store, and changing what the catalog says about a version."""

from __future__ import annotations

import hashlib
import json
import logging
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from shipyard import record
from shipyard.catalog import index, records, sign
from shipyard.catalog.records import Ami, Channel, Download, VersionRecord
from shipyard.catalog.store import Store
from shipyard.errors import CatalogError, UsageError

log = logging.getLogger("shipyard.catalog")

MAX_SAME_DAY = 1000
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:+-]*$")


def blob_key(sha256: str) -> str:
    return f"blobs/sha256/{sha256[:2]}/{sha256}"


def _put_blob(store: Store, source: Path, sha256: str, size: int) -> str:
    """Upload a file under its sha256 unless the store already holds it."""
    key = blob_key(sha256)
    if store.size(key) == size:
        log.info("%s already holds %s", store.url, key)
        return key
    log.info("uploading %s to %s/%s", source.name, store.url, key)
    store.put_file(key, source)
    return key


def _record_blob(store: Store, build_dir: Path) -> Download:
    """The build record (without the catalog's own notes) as a content-addressed blob."""
    data = json.loads((build_dir / record.RECORD_NAME).read_text())
    data.pop("catalog", None)
    payload = json.dumps(data, indent=2, sort_keys=True).encode() + b"\n"
    sha = hashlib.sha256(payload).hexdigest()
    key = blob_key(sha)
    if store.size(key) != len(payload):
        store.put(key, payload)
    return Download(ftype="build-record", path=key, size=len(payload), sha256=sha)


def amis_of(rec: record.BuildRecord) -> dict[str, Ami]:
    """The AMIs ``shipyard publish`` recorded for a build, by region (latest wins)."""
    entries = (rec.model_extra or {}).get("publish") or []
    amis: dict[str, Ami] = {}
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict) or not entry.get("ami_id") or not entry.get("region"):
            continue
        amis[entry["region"]] = Ami(
            region=entry["region"],
            id=entry["ami_id"],
            snapshot_id=entry.get("snapshot_id"),
            boot_mode=entry.get("boot_mode"),
        )
    return amis


def _date_version(created: str) -> str:
    try:
        when = datetime.fromisoformat(created.replace("Z", "+00:00"))
    except ValueError:
        raise CatalogError(f"the build's created time {created!r} is not an ISO date") from None
    if when.tzinfo is not None:
        when = when.astimezone(UTC)
    return when.strftime("%Y%m%d")


def add_build(
    store: Store,
    build_dir: Path,
    channel: Channel | None = None,
    home: Path | None = None,
) -> dict[str, Any]:
    """Put a build's artifacts and record into the store and index them; idempotent."""
    build_dir = record.find_build(build_dir)
    rec = record.load(build_dir)
    if rec.status != "complete":
        raise CatalogError(
            f"build {rec.id} is {rec.status}, not complete; only finished builds can be catalogued"
        )
    if not rec.formats:
        raise CatalogError(f"build {rec.id} records no image files")
    home = home or sign.default_home()
    sign.ensure_key(home)

    downloads: dict[str, Download] = {}
    for fmt, art in sorted(rec.formats.items()):
        source = build_dir / art.path
        if not source.is_file():
            raise CatalogError(f"{source}: the build's {fmt} image is missing")
        if source.stat().st_size != art.size:
            raise CatalogError(f"{source}: its size differs from what build.json records")
        key = _put_blob(store, source, art.sha256, art.size)
        downloads[Path(art.path).name] = Download(
            ftype=fmt, path=key, size=art.size, sha256=art.sha256
        )
    downloads["build.json"] = _record_blob(store, build_dir)

    pid = records.product_id(rec.release, rec.architecture, rec.flavour)
    fields = {
        "downloads": downloads,
        "amis": amis_of(rec),
        "packages": dict(rec.packages),
        "name": rec.name,
    }
    existing = next((r for r in records.load_product(store, pid) if r.build_id == rec.id), None)
    if existing is not None:
        updated = existing.model_copy(update={**fields, "channel": channel or existing.channel})
        changed = updated != existing
        if changed:
            store.put(records.record_key(pid, updated.version), records.encode(updated))
        new = updated
    else:
        new = _create(store, rec, pid, fields, channel or "daily")
        changed = True
    if changed:
        index.regenerate(store, home)
        record.append(
            build_dir,
            "catalog",
            {
                "store": store.url,
                "product_id": pid,
                "version": new.version,
                "channel": new.channel,
                "time": datetime.now(UTC).isoformat(timespec="seconds"),
            },
        )
    return {
        "store": store.url,
        "product_id": pid,
        "version": new.version,
        "channel": new.channel,
        "build_id": rec.id,
        "changed": changed,
    }


def _create(
    store: Store, rec: record.BuildRecord, pid: str, fields: dict[str, Any], channel: Channel
) -> VersionRecord:
    """Claim the first free ``YYYYMMDD[.n]`` version for the build (create-if-absent)."""
    day = _date_version(rec.created)
    for n in range(MAX_SAME_DAY):
        version = day if n == 0 else f"{day}.{n}"
        new = VersionRecord(
            product_id=pid,
            version=version,
            release=rec.release,
            arch=rec.architecture,
            flavour=rec.flavour,
            channel=channel,
            build_id=rec.id,
            created=rec.created,
            **fields,
        )
        if store.put_new(records.record_key(pid, version), records.encode(new)):
            return new
    raise CatalogError(f"{pid} has {MAX_SAME_DAY} versions on {day}; refusing to add more")


def choose(store: Store, version: str, product: str | None = None) -> VersionRecord:
    """The one record called ``version`` (or with that build id)."""
    if not _NAME.match(version):
        raise UsageError(f"{version!r} is not a catalog version or build id")
    if product is not None and not _NAME.match(product):
        raise UsageError(f"{product!r} is not a product id")
    found = records.find(store, version, product)
    if not found:
        raise CatalogError(
            f"{store.url} has no version {version}" + (f" of {product}" if product else "")
        )
    if len(found) > 1:
        names = ", ".join(sorted(r.product_id for r in found))
        raise UsageError(
            f"version {version} exists in several products ({names}); name one with --product"
        )
    return found[0]


def update(
    store: Store,
    version: str,
    product: str | None = None,
    home: Path | None = None,
    **changes: Any,
) -> VersionRecord:
    """Change fields of one version (deprecated, channel) and re-index."""
    rec = choose(store, version, product)
    new = rec.model_copy(update=changes)
    if new != rec:
        store.put(records.record_key(rec.product_id, rec.version), records.encode(new))
        index.regenerate(store, home)
    return new
