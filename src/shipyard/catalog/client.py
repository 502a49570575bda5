"""A client of a remote catalog: fetch and verify the index, resolve, download with resume."""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path
from typing import Any

import httpx

from shipyard.catalog import index, resolve, sign
from shipyard.catalog.results import PulledFile, PullResult
from shipyard.checksum import sha256_file
from shipyard.errors import CatalogError, CatalogNotFound
from shipyard.progress import SILENT, Progress

log = logging.getLogger("shipyard.catalog")

CHUNK = 1024 * 1024


class RemoteCatalog:
    """A catalog served over HTTP(S) (or any httpx transport, for tests)."""

    def __init__(
        self,
        url: str,
        verifier: sign.Verifier,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.url = url.rstrip("/")
        self.verifier = verifier
        self.http = httpx.Client(transport=transport, timeout=timeout, follow_redirects=True)

    def close(self) -> None:
        self.http.close()

    def _get(self, path: str, **kwargs: Any) -> httpx.Response:
        try:
            resp = self.http.get(f"{self.url}/{path}", **kwargs)
        except httpx.HTTPError as exc:
            raise CatalogError(f"cannot fetch {self.url}/{path}: {exc}") from exc
        if resp.status_code == 404:
            raise CatalogNotFound(f"{self.url}/{path} does not exist (is this a Shipyard catalog?)")
        if resp.status_code >= 400:
            raise CatalogError(f"{self.url}/{path} answered HTTP {resp.status_code}")
        return resp

    def signed(self, path: str) -> dict[str, Any]:
        """A ``.json`` document of the catalog, fetched as ``.sjson`` and verified."""
        signed_path = path.removesuffix(".json") + ".sjson"
        body = self._get(signed_path).content
        payload = self.verifier.verify(body, f"{self.url}/{signed_path}")
        return index.parse(payload, signed_path)

    def view(self) -> resolve.View:
        idx = self.signed(index.INDEX)
        docs = {cid: self.signed(entry["path"]) for cid, entry in idx.get("index", {}).items()}
        return resolve.View.from_docs(docs, idx.get("updated", ""))

    def download(self, item: dict[str, Any], dest: Path, progress: Progress = SILENT) -> PulledFile:
        """Fetch one item into ``dest``, resuming a partial copy, and check its sha256."""
        size, sha = int(item["size"]), str(item["sha256"])
        progress.step(f"downloading {dest.name}", size)
        if dest.is_file() and dest.stat().st_size == size and sha256_file(dest) == sha:
            return PulledFile(path=str(dest), size=size, sha256=sha, resumed_from=None)
        part = dest.with_name(dest.name + ".part")
        have = part.stat().st_size if part.is_file() else 0
        if have > size:
            part.unlink()
            have = 0
        digest = hashlib.sha256()
        if have:
            with open(part, "rb") as fh:
                while chunk := fh.read(CHUNK):
                    digest.update(chunk)
        headers = {"Range": f"bytes={have}-", "If-Range": f'"{sha}"'} if have else {}
        url = f"{self.url}/{item['path']}"
        resumed = have or None
        try:
            with self.http.stream("GET", url, headers=headers) as resp:
                if resp.status_code == 416 and have == size:
                    pass  # the partial copy is already whole
                elif resp.status_code not in (200, 206):
                    raise CatalogError(f"{url} answered HTTP {resp.status_code}")
                else:
                    if resp.status_code == 200 and have:
                        log.info("%s ignored the range; downloading %s again", url, dest.name)
                        digest, have, resumed = hashlib.sha256(), 0, None
                    progress.advance(have)
                    with open(part, "ab" if have else "wb") as fh:
                        for chunk in resp.iter_bytes(64 * 1024):
                            fh.write(chunk)
                            progress.advance(len(chunk))
                            digest.update(chunk)
        except httpx.HTTPError as exc:
            got = part.stat().st_size if part.is_file() else 0
            raise CatalogError(
                f"the download of {dest.name} was cut short after {got} of {size} bytes: {exc}",
                hint="run the same pull again to resume it",
            ) from exc
        got = part.stat().st_size
        if got != size or digest.hexdigest() != sha:
            part.unlink()
            raise CatalogError(
                f"{dest.name} from {url} was refused: its "
                + ("size" if got != size else "sha256")
                + " does not match the signed index"
            )
        os.replace(part, dest)
        return PulledFile(path=str(dest), size=size, sha256=sha, resumed_from=resumed)


def pull(
    catalog: RemoteCatalog,
    filters: list[resolve.Filter],
    out: Path,
    progress: Progress = SILENT,
) -> PullResult:
    """Resolve against the remote catalog and download the chosen image's files to ``out``."""
    if not any(f.key in resolve.DOWNLOAD_KEYS for f in filters):
        filters = [*filters, resolve.parse_filter("ftype=raw")]
    view = catalog.view()
    image = resolve.resolve(view, filters)
    if image is None:
        raise CatalogError(f"{catalog.url} has no image matching {resolve.describe(filters)}")
    out.mkdir(parents=True, exist_ok=True)
    wanted = {
        name: item
        for name, item in image.downloads.items()
        if item.get("ftype") not in PROVENANCE_FTYPES
    }
    files = [
        catalog.download(item, out / Path(name).name, progress)
        for name, item in sorted(wanted.items())
    ]
    full = next(i for i in view.products[image.product_id] if i.version == image.version)
    proven = _check_provenance(catalog, full.downloads, files, out)
    return PullResult(
        product_id=image.product_id, version=image.version, files=tuple(files), provenance=proven
    )


PROVENANCE_FTYPES = ("provenance", "provenance-signature")


def _check_provenance(
    catalog: RemoteCatalog,
    downloads: dict[str, dict[str, Any]],
    files: list[PulledFile],
    out: Path,
) -> str | None:
    """Fetch the image's signed provenance, if the catalog has one, and check the files by it.

    Returns the provenance's path; CatalogError if its signature is not the catalog's or
    it does not name a downloaded file by the sha256 that file has.
    """
    import json

    by_type = {item.get("ftype"): (name, item) for name, item in downloads.items()}
    if "provenance" not in by_type or "provenance-signature" not in by_type:
        return None
    name, item = by_type["provenance"]
    statement_path = out / Path(name).name
    catalog.download(item, statement_path)
    sig_name, sig_item = by_type["provenance-signature"]
    signature_path = out / Path(sig_name).name
    catalog.download(sig_item, signature_path)
    payload = statement_path.read_bytes()
    catalog.verifier.verify_detached(payload, signature_path, f"{catalog.url}: {name}")
    try:
        subjects = {
            s.get("name"): s.get("digest", {}).get("sha256")
            for s in json.loads(payload).get("subject", [])
        }
    except (ValueError, AttributeError) as exc:
        raise CatalogError(f"{catalog.url}: {name} is not an in-toto statement") from exc
    for got in files:
        file_name = Path(got.path).name
        if file_name in subjects and subjects[file_name] != got.sha256:
            raise CatalogError(
                f"{file_name}: its sha256 differs from the one the signed provenance names"
            )
    return str(statement_path)
