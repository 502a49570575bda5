"""Which 512 KiB blocks of a sparse disk image hold data, found without reading holes."""

from __future__ import annotations

import os

from shipyard.sparse import data_extents

BLOCK_SIZE = 512 * 1024


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
