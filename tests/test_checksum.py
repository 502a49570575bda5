"""Checksums of sparse files equal those of the same bytes read plainly."""

from __future__ import annotations

import errno
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


@pytest.mark.parametrize("errno_code", [errno.EINVAL, errno.EOPNOTSUPP])
def test_a_file_system_without_seek_data_is_hashed_by_reading_everything(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, errno_code: int
) -> None:
    # Some file systems (and older kernels) refuse SEEK_DATA: every byte is data then,
    # never "only a hole is left".
    path = tmp_path / "disk.raw"
    with open(path, "wb") as fh:
        fh.truncate(6 * 1024**2)
        os.pwrite(fh.fileno(), b"data after the start", 3 * 1024**2)
    real_lseek = os.lseek

    def lseek(fd: int, pos: int, how: int) -> int:
        if how in (os.SEEK_DATA, os.SEEK_HOLE):
            raise OSError(errno_code, os.strerror(errno_code))
        return real_lseek(fd, pos, how)

    monkeypatch.setattr(os, "lseek", lseek)
    assert sha256_file(path) == hashlib.sha256(path.read_bytes()).hexdigest()
