"""Where a sparse file holds data, found without reading its holes (SEEK_DATA/SEEK_HOLE)."""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator


def data_extents(fd: int, size: int) -> Iterator[tuple[int, int]]:
    """(start, end) byte ranges of ``fd``'s first ``size`` bytes that may hold data.

    Everything outside them is a hole that reads as zeros. A file system that cannot
    tell (EINVAL, EOPNOTSUPP) gets the rest of the file as one range of data.
    """
    offset = 0
    while offset < size:
        try:
            start = os.lseek(fd, offset, os.SEEK_DATA)
        except OSError as exc:
            if exc.errno == errno.ENXIO:  # only a hole is left
                return
            if exc.errno in (errno.EINVAL, errno.EOPNOTSUPP):
                yield offset, size
                return
            raise
        if start >= size:
            return
        end = min(os.lseek(fd, start, os.SEEK_HOLE), size)
        yield start, end
        offset = end
