"""The simplestreams index, generated from the version records and signed.

Layout (paths relative to the store root, which is the mirror root):
``streams/v1/index.json`` (``index:1.0``) names two ``products:1.0`` files: downloads
(items with ftype, path, size, sha256) and AMI ids (items per region). Each ``.json``
has a clearsigned ``.sjson`` beside it.
"""

from __future__ import annotations

import json
import logging
from email.utils import formatdate
from pathlib import Path
from typing import Any

from shipyard.catalog import records, sign
from shipyard.catalog.store import Store
from shipyard.errors import CatalogError, CatalogNotFound

log = logging.getLogger("shipyard.catalog")

STREAMS = "streams/v1/"
INDEX = f"{STREAMS}index.json"
DOWNLOADS = f"{records.PRODUCT_PREFIX}:downloads"
IMAGE_IDS = f"{records.PRODUCT_PREFIX}:aws"
CONTENT = {DOWNLOADS: "image-downloads", IMAGE_IDS: "image-ids"}
MAX_ROUNDS = 20


def products_path(content_id: str) -> str:
    return f"{STREAMS}{content_id}.json"


def build_products(recs: list[records.VersionRecord], updated: str) -> dict[str, dict[str, Any]]:
    """The two products:1.0 documents (by content id) for ``recs``."""
    docs: dict[str, dict[str, Any]] = {}
    for content_id, datatype in CONTENT.items():
        docs[content_id] = {
            "content_id": content_id,
            "datatype": datatype,
            "format": "products:1.0",
            "updated": updated,
            "products": {},
        }
    for rec in sorted(recs, key=lambda r: (r.product_id, records.version_key(r.version))):
        product = {
            "os": rec.os,
            "release": rec.release,
            "arch": rec.arch,
            "flavour": rec.flavour,
        }
        version = {
            "channel": rec.channel,
            "deprecated": rec.deprecated,
            "build_id": rec.build_id,
            "pubname": rec.name,
            "created": rec.created,
        }
        if rec.downloads:
            items = {name: d.model_dump() for name, d in rec.downloads.items()}
            prod = docs[DOWNLOADS]["products"].setdefault(
                rec.product_id, {**product, "versions": {}}
            )
            prod["versions"][rec.version] = {**version, "items": items}
        if rec.amis:
            items = {
                region: a.model_dump(exclude_none=True) for region, a in sorted(rec.amis.items())
            }
            prod = docs[IMAGE_IDS]["products"].setdefault(
                rec.product_id, {**product, "versions": {}}
            )
            prod["versions"][rec.version] = {**version, "items": items}
    return docs


def build_index(docs: dict[str, dict[str, Any]], updated: str) -> dict[str, Any]:
    return {
        "format": "index:1.0",
        "updated": updated,
        "index": {
            content_id: {
                "datatype": doc["datatype"],
                "format": "products:1.0",
                "path": products_path(content_id),
                "updated": updated,
                "products": sorted(doc["products"]),
            }
            for content_id, doc in docs.items()
        },
    }


def _encode(doc: dict[str, Any]) -> bytes:
    return _lines(doc, 0).encode() + b"\n"


def _lines(value: Any, depth: int) -> str:
    """JSON with one version per line.

    Compact below that depth, because the indenting encoder is pure Python and ten
    times slower; but not all on one line, because GnuPG splits clearsigned lines
    longer than about 20,000 bytes, which would break the signed JSON.
    """
    if depth >= 4 or not isinstance(value, dict) or not value:
        return json.dumps(value, separators=(",", ":"), sort_keys=True)
    inner = ",\n".join(f"{json.dumps(k)}:{_lines(v, depth + 1)}" for k, v in sorted(value.items()))
    return "{\n" + inner + "\n}"


def _write_signed(store: Store, key: str, doc: dict[str, Any], home: Path) -> None:
    data = _encode(doc)
    store.put(key, data)
    store.put(key.removesuffix(".json") + ".sjson", sign.clearsign(home, data))


def regenerate(store: Store, home: Path | None = None) -> dict[str, Any]:
    """Rewrite and sign the index from the records; returns the index document.

    Compare-and-swap without a lock, so it works on S3 too: after writing, the records
    are listed again, and if any changed meanwhile (another add or deprecate finished)
    the index is generated again. The last writer has always seen every record.
    """
    home = home or sign.default_home()
    for _ in range(MAX_ROUNDS):
        recs, tags = records.load_all(store)
        updated = formatdate(usegmt=True)
        docs = build_products(recs, updated)
        for content_id, doc in docs.items():
            _write_signed(store, products_path(content_id), doc, home)
        index = build_index(docs, updated)
        _write_signed(store, INDEX, index, home)
        if store.list(records.RECORDS) == tags:
            return index
        log.info("catalog records changed while indexing; indexing again")
    raise CatalogError(f"{store.url}: the records kept changing; the index could not settle")


def load_signed(store: Store, key: str, verifier: sign.Verifier) -> dict[str, Any]:
    """A ``.json`` document of the store, read from its ``.sjson`` and verified."""
    signed_key = key.removesuffix(".json") + ".sjson"
    if not store.exists(signed_key):
        raise CatalogNotFound(f"{store.url}: the catalog has no {signed_key} (is it empty?)")
    payload = verifier.verify(store.get(signed_key), f"{store.url}/{signed_key}")
    return parse(payload, signed_key)


def parse(payload: bytes, what: str) -> dict[str, Any]:
    try:
        doc = json.loads(payload)
    except json.JSONDecodeError as exc:
        raise CatalogError(f"{what} is not valid JSON: {exc.msg} at line {exc.lineno}") from exc
    if not isinstance(doc, dict):
        raise CatalogError(f"{what} is not a JSON object")
    return doc
