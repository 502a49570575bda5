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
from shipyard.catalog.results import AddResult
from shipyard.catalog.store import Store
from shipyard.errors import CatalogError, CatalogNotFound, UsageError
from shipyard.progress import SILENT, Progress
from shipyard.record_sections import CatalogEntry

log = logging.getLogger("shipyard.catalog")

MAX_SAME_DAY = 1000
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:+-]*$")


def blob_key(sha256: str) -> str:
    return f"blobs/sha256/{sha256[:2]}/{sha256}"


def _put_blob(
    store: Store, source: Path, sha256: str, size: int, progress: Progress = SILENT
) -> str:
    """Upload a file under its sha256 unless the store already holds it."""
    key = blob_key(sha256)
    if store.size(key) == size:
        log.info("%s already holds %s", store.url, key)
        return key
    log.info("uploading %s to %s/%s", source.name, store.url, key)
    progress.step(f"storing {source.name}", size)
    store.put_file(key, source, progress.advance)
    return key


def _record_blob(store: Store, rec: record.BuildRecord) -> Download:
    """The build record (without the catalog's own notes) as a content-addressed blob."""
    data = record.dump(rec.model_copy(update={"catalog": []}))
    del data["catalog"]
    payload = json.dumps(data, indent=2, sort_keys=True).encode() + b"\n"
    sha = hashlib.sha256(payload).hexdigest()
    key = blob_key(sha)
    if store.size(key) != len(payload):
        store.put(key, payload)
    return Download(ftype="build-record", path=key, size=len(payload), sha256=sha)


def _provenance_blobs(
    store: Store, build_dir: Path, rec: record.BuildRecord, home: Path
) -> dict[str, Download]:
    """The build's provenance, and a detached signature of it by this catalog's key."""
    from shipyard.build.provenance import PROVENANCE_NAME, SIGNATURE_NAME

    if rec.provenance is None:
        return {}
    source = build_dir / rec.provenance.path
    try:
        payload = source.read_bytes()
    except OSError as exc:
        raise CatalogError(f"{source}: cannot read the build's provenance: {exc}") from exc
    if hashlib.sha256(payload).hexdigest() != rec.provenance.sha256:
        raise CatalogError(f"{source}: its sha256 differs from what build.json records")
    stored: dict[str, Download] = {}
    for name, ftype, data in (
        (PROVENANCE_NAME, "provenance", payload),
        (SIGNATURE_NAME, "provenance-signature", sign.detach_sign(home, payload)),
    ):
        sha = hashlib.sha256(data).hexdigest()
        key = blob_key(sha)
        if store.size(key) != len(data):
            store.put(key, data)
        stored[name] = Download(ftype=ftype, path=key, size=len(data), sha256=sha)
    return stored


def amis_of(rec: record.BuildRecord) -> dict[str, Ami]:
    """The AMIs ``shipyard publish`` recorded for a build, by region (latest wins)."""
    amis: dict[str, Ami] = {}
    for entry in rec.publish:
        root_store = "ebs" if entry.backing == "ebs" else "instance-store"
        for region, image in entry.images.items():
            amis[region] = Ami(
                region=region,
                id=image.image_id,
                snapshot_id=image.snapshot_id,
                root_store=root_store,
                boot_mode=entry.boot_mode,
            )
    return dict(sorted(amis.items()))


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
    progress: Progress = SILENT,
) -> AddResult:
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
        key = _put_blob(store, source, art.sha256, art.size, progress)
        downloads[Path(art.path).name] = Download(
            ftype=fmt, path=key, size=art.size, sha256=art.sha256
        )
    downloads["build.json"] = _record_blob(store, rec)
    downloads.update(_provenance_blobs(store, build_dir, rec, home))

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
        progress.step("signing the index")
        index.regenerate(store, home)
        entry = CatalogEntry(
            store=store.url,
            product_id=pid,
            version=new.version,
            channel=new.channel,
            time=datetime.now(UTC).isoformat(timespec="seconds"),
        )
        record.append(build_dir, entry)
    return AddResult(
        store=store.url,
        product_id=pid,
        version=new.version,
        channel=new.channel,
        build_id=rec.id,
        changed=changed,
    )


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
        raise CatalogNotFound(
            f"{store.url} has no version {version}" + (f" of {product}" if product else "")
        )
    if len(found) > 1:
        names = ", ".join(sorted(r.product_id for r in found))
        raise UsageError(
            f"version {version} exists in several products ({names}); name one",
            setting="product",
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
