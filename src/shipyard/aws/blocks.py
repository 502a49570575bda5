"""Which 512 KiB blocks of a sparse disk image hold data, found without reading holes."""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator

BLOCK_SIZE = 512 * 1024


def data_extents(fd: int, size: int) -> Iterator[tuple[int, int]]:
    """(start, end) byte ranges that may hold data, by SEEK_DATA/SEEK_HOLE."""
    offset = 0
    while offset < size:
        try:
            start = os.lseek(fd, offset, os.SEEK_DATA)
        except OSError as exc:
            if exc.errno == errno.ENXIO:  # only a hole is left
                return
            if exc.errno in (errno.EINVAL, errno.EOPNOTSUPP):
                # The file system cannot tell: treat everything as data.
                yield offset, size
                return
            raise
        end = min(os.lseek(fd, start, os.SEEK_HOLE), size)
        yield start, end
        offset = end


def candidate_blocks(fd: int, size: int, block_size: int = BLOCK_SIZE) -> list[int]:
    """Indices of blocks that overlap a data extent, in order, each once."""
    indices: list[int] = []
    last = -1
    for start, end in data_extents(fd, size):
        first = max(start // block_size, last + 1)
        stop = -(-end // block_size)
        indices.extend(range(first, stop))
        last = max(last, stop - 1)
    return indices


def read_block(fd: int, index: int, size: int, block_size: int = BLOCK_SIZE) -> bytes:
    """Block ``index``, padded with zeros past the end of the file."""
    data = os.pread(fd, block_size, index * block_size)
    if len(data) < block_size and index * block_size + len(data) >= size:
        data += bytes(block_size - len(data))
    return data


def is_zero(block: bytes, _zero: dict[int, bytes] = {}) -> bool:  # noqa: B006 - a cache
    """True when every byte is zero (a memcmp against a cached zero block)."""
    zero = _zero.get(len(block))
    if zero is None:
        zero = _zero.setdefault(len(block), bytes(len(block)))
    return block == zero
