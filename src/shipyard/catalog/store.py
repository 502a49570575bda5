"""Where a catalog keeps its files: one narrow interface, stores registered by URL scheme.

Keys are relative paths with ``/`` separators (``blobs/sha256/ab/ab12...``,
``streams/v1/index.json``). Every write is atomic: a reader sees the old object or
the new one, never a part.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO, Protocol

from shipyard import paths
from shipyard.errors import CatalogError, CatalogNotFound

CHUNK = 1024 * 1024


class Store(Protocol):
    """The operations a catalog needs from where it keeps its files."""

    url: str

    def get(self, key: str) -> bytes:
        """The whole object; CatalogError if it does not exist."""
        ...

    def get_range(self, key: str, start: int, end: int) -> Iterator[bytes]:
        """Bytes ``start``..``end`` inclusive of the object, in chunks."""
        ...

    def put(self, key: str, data: bytes) -> None:
        """Write (or replace) an object atomically."""
        ...

    def put_new(self, key: str, data: bytes) -> bool:
        """Create an object only if it does not exist yet; False if it already did."""
        ...

    def put_file(
        self, key: str, source: Path, on_bytes: Callable[[int], object] | None = None
    ) -> None:
        """Copy a local file into the store atomically; ``on_bytes(n)`` as it goes."""
        ...

    def exists(self, key: str) -> bool: ...

    def size(self, key: str) -> int | None:
        """Size in bytes, or None if the object does not exist."""
        ...

    def delete(self, key: str) -> None:
        """Remove an object; removing one that is absent is not an error."""
        ...

    def list(self, prefix: str) -> dict[str, str]:
        """Keys under ``prefix`` mapped to a tag that changes whenever the object does."""
        ...


# URL scheme -> module holding ``open_store(url) -> Store``.
STORES: dict[str, str] = {
    "file": "shipyard.catalog.store_local",
    "s3": "shipyard.catalog.store_s3",
}


def default_store_url() -> str:
    """The local catalog: $SHIPYARD_CATALOG, else a directory under the user's data home."""
    env = os.environ.get("SHIPYARD_CATALOG")
    if env:
        return env
    return str(paths.data_dir() / "catalog")


def open_store(url: str | None = None, *, endpoint_url: str | None = None) -> Store:
    """The store named by ``url``: a directory path, ``file://DIR`` or ``s3://bucket/prefix``."""
    url = url or default_store_url()
    scheme = url.split("://", 1)[0] if "://" in url else "file"
    module_name = STORES.get(scheme)
    if module_name is None:
        known = ", ".join(f"{s}://" for s in STORES)
        raise CatalogError(f"store {url!r} has an unknown scheme {scheme!r} (known: {known})")
    module = importlib.import_module(module_name)
    store: Store = module.open_store(url, endpoint_url=endpoint_url)
    return store


def copy_out(store: Store, key: str, dest: BinaryIO, start: int = 0) -> int:
    """Write an object (from byte ``start``) into ``dest``; returns the bytes written."""
    size = store.size(key)
    if size is None:
        raise CatalogNotFound(f"{store.url}: {key} does not exist")
    written = 0
    if size > start:
        for chunk in store.get_range(key, start, size - 1):
            dest.write(chunk)
            written += len(chunk)
    return written
