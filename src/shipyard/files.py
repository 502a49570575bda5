"""Writing files so that a reader, or a machine that lost power, sees all or nothing."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO


@contextmanager
def atomic_writer(path: Path, *, mode: int = 0o644, replace: bool = True) -> Iterator[BinaryIO]:
    """A binary file that becomes ``path`` whole when the block ends, and nothing if it fails.

    The bytes are written to a temporary file beside ``path`` (created with ``mode``, so a
    private file is never readable by others), synced to disk, then renamed over ``path``
    and the folder synced. ``replace=False`` never overwrites: FileExistsError if ``path``
    exists by then.
    """
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        if replace:
            os.replace(tmp, path)
        else:
            os.link(tmp, path)  # fails if it exists: an atomic create-if-absent
            os.unlink(tmp)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _sync_folder(path.parent)


def write_atomic(path: Path, data: bytes | str, *, mode: int = 0o644) -> None:
    """Replace ``path`` with ``data`` (text is UTF-8) all at once; see :func:`atomic_writer`."""
    with atomic_writer(path, mode=mode) as fh:
        fh.write(data.encode() if isinstance(data, str) else data)


def _sync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
