"""File checksums that cost nothing for the holes of sparse disk images."""

from __future__ import annotations

import hashlib
from pathlib import Path

from shipyard.sparse import data_extents

HASH_CHUNK = 4 * 1024**2


def sha256_file(path: Path) -> str:
    """sha256 of a (possibly sparse) file; holes are hashed as zeros without reading them."""
    digest = hashlib.sha256()
    zeros = bytes(HASH_CHUNK)
    size = path.stat().st_size
    with open(path, "rb") as fh:
        offset = 0
        for start, end in data_extents(fh.fileno(), size):
            _feed_zeros(digest, zeros, start - offset)  # a hole: zeros without reading
            fh.seek(start)
            offset = start
            while offset < end:
                chunk = fh.read(min(HASH_CHUNK, end - offset))
                if not chunk:
                    break
                digest.update(chunk)
                offset += len(chunk)
        _feed_zeros(digest, zeros, size - offset)
    return digest.hexdigest()


def _feed_zeros(digest: hashlib._Hash, zeros: bytes, count: int) -> None:
    while count > 0:
        n = min(len(zeros), count)
        digest.update(memoryview(zeros)[:n])
        count -= n
