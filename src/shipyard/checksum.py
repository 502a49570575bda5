"""File checksums that cost nothing for the holes of sparse disk images."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

HASH_CHUNK = 4 * 1024**2


def sha256_file(path: Path) -> str:
    """sha256 of a (possibly sparse) file; holes are hashed as zeros without reading them."""
    digest = hashlib.sha256()
    zeros = bytes(HASH_CHUNK)
    size = path.stat().st_size
    with open(path, "rb") as fh:
        fd = fh.fileno()
        offset = 0
        while offset < size:
            try:
                data_start = os.lseek(fd, offset, os.SEEK_DATA)
            except OSError:  # ENXIO: only a hole is left
                data_start = size
            while offset < data_start:  # a hole: feed zeros without reading
                n = min(HASH_CHUNK, data_start - offset)
                digest.update(memoryview(zeros)[:n])
                offset += n
            if offset >= size:
                break
            hole_start = os.lseek(fd, offset, os.SEEK_HOLE)
            fh.seek(offset)
            while offset < hole_start:
                chunk = fh.read(min(HASH_CHUNK, hole_start - offset))
                if not chunk:
                    break
                digest.update(chunk)
                offset += len(chunk)
    return digest.hexdigest()
