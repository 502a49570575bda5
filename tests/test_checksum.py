"""Checksums of sparse files equal those of the same bytes read plainly."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from shipyard.checksum import sha256_file


@pytest.mark.parametrize(
    "layout",
    [
        [],  # all hole
        [(0, b"start")],
        [(5 * 1024**2, b"x" * 70000)],
        [(0, b"a" * 4096), (9 * 1024**2 + 1, b"b"), (12 * 1024**2 - 3, b"end")],
    ],
)
def test_sparse_file_hashes_like_its_bytes(tmp_path: Path, layout: list[tuple[int, bytes]]) -> None:
    path = tmp_path / "disk.raw"
    size = 12 * 1024**2
    with open(path, "wb") as fh:
        fh.truncate(size)
        for offset, data in layout:
            os.pwrite(fh.fileno(), data, offset)
    assert sha256_file(path) == hashlib.sha256(path.read_bytes()).hexdigest()
