"""A catalog store in a local directory."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from shipyard.catalog.store import CHUNK
from shipyard.errors import CatalogError, CatalogNotFound
from shipyard.files import atomic_writer


class LocalStore:
    """Objects are files under ``root``; writes go to a temp file renamed into place."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.url = str(root)

    def _path(self, key: str) -> Path:
        if key.startswith("/") or ".." in key.split("/") or "\x00" in key:
            raise CatalogError(f"{key!r} is not a key inside the store")
        return self.root / key

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise CatalogNotFound(f"{self.url}: {key} does not exist") from None
        except OSError as exc:
            raise CatalogError(f"{self.url}: cannot read {key}: {exc.strerror}") from exc

    def get_range(self, key: str, start: int, end: int) -> Iterator[bytes]:
        try:
            fh = open(self._path(key), "rb")  # noqa: SIM115 (closed by the generator)
        except FileNotFoundError:
            raise CatalogNotFound(f"{self.url}: {key} does not exist") from None
        return _read_range(fh, start, end)

    def put(self, key: str, data: bytes) -> None:
        self._atomic(key, lambda fh: fh.write(data))

    def put_new(self, key: str, data: bytes) -> bool:
        try:
            self._atomic(key, lambda fh: fh.write(data), replace=False)
        except FileExistsError:
            return False
        return True

    def put_file(
        self, key: str, source: Path, on_bytes: Callable[[int], object] | None = None
    ) -> None:
        def copy(fh: BinaryIO) -> None:
            # Disk images are sparse: seek over zero blocks rather than write them.
            with open(source, "rb") as src:
                while chunk := src.read(CHUNK):
                    if chunk.count(0) == len(chunk):
                        fh.seek(len(chunk), os.SEEK_CUR)
                    else:
                        fh.write(chunk)
                    if on_bytes is not None:
                        on_bytes(len(chunk))
                fh.truncate()

        self._atomic(key, copy)

    def _atomic(
        self, key: str, write: Callable[[BinaryIO], object], *, replace: bool = True
    ) -> None:
        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CatalogError(f"{self.url}: cannot write {key}: {exc.strerror}") from exc
        try:
            with atomic_writer(path, replace=replace) as fh:
                write(fh)
        except OSError as exc:
            if isinstance(exc, FileExistsError) and not replace:
                raise  # put_new: the key exists
            raise CatalogError(f"{self.url}: cannot write {key}: {exc.strerror}") from exc

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def size(self, key: str) -> int | None:
        try:
            return self._path(key).stat().st_size
        except FileNotFoundError:
            return None

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def list(self, prefix: str) -> dict[str, str]:
        base = self._path(prefix.rstrip("/")) if prefix else self.root
        found: dict[str, str] = {}
        root = str(self.root) + "/"
        if base.is_file():
            st = base.stat()
            return {str(base).removeprefix(root): f"{st.st_mtime_ns}-{st.st_size}"}
        pending = [str(base)]
        while pending:
            try:
                entries = list(os.scandir(pending.pop()))
            except (FileNotFoundError, NotADirectoryError):
                continue
            for entry in entries:
                if entry.name.startswith("."):
                    continue  # temp files of writes in progress
                if entry.is_dir(follow_symlinks=False):
                    pending.append(entry.path)
                else:
                    st = entry.stat()
                    found[entry.path.removeprefix(root)] = f"{st.st_mtime_ns}-{st.st_size}"
        return found


def _read_range(fh: BinaryIO, start: int, end: int) -> Iterator[bytes]:
    with fh:
        fh.seek(start)
        remaining = end - start + 1
        while remaining > 0:
            chunk = fh.read(min(CHUNK, remaining))
            if not chunk:
                break
            remaining -= len(chunk)
            yield chunk


def open_store(url: str, *, endpoint_url: str | None = None) -> LocalStore:
    path = url.removeprefix("file://")
    return LocalStore(Path(path).expanduser().resolve())
