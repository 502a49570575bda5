"""Sizes with units: ``2GiB``, ``512M``, ``1.5G``, ``4096``."""

from __future__ import annotations

import re

UNITS = {
    "": 1,
    "B": 1,
    "K": 1024,
    "KIB": 1024,
    "M": 1024**2,
    "MIB": 1024**2,
    "G": 1024**3,
    "GIB": 1024**3,
    "T": 1024**4,
    "TIB": 1024**4,
}
# Refused: "2 GB" means 2,000,000,000 bytes to some and 2 GiB to others, and a disk of
# decimal size is not a whole number of MiB, which partitions and EBS volumes want.
DECIMAL_UNITS = {"KB": "KiB", "MB": "MiB", "GB": "GiB", "TB": "TiB"}

_KINDS: dict[type, str] = {type(None): "nothing (null)", list: "a list", dict: "a mapping"}

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*$")


def parse_size(value: object) -> int:
    """Bytes in ``value``; bare numbers are bytes, K/M/G/T are binary, KB/MB/GB/TB refused.

    Raises ValueError with a message that says what is accepted.
    """
    if isinstance(value, bool):
        raise ValueError("a size must be a number with a unit such as 2GiB, not a boolean")
    if isinstance(value, int):
        if value <= 0:
            raise ValueError("a size must be positive")
        return value
    if not isinstance(value, str):
        given = repr(value) if isinstance(value, float) else _KINDS.get(type(value), "another type")
        raise ValueError(f"expected a size such as 2GiB or 512MiB, got {given}")
    match = _SIZE.match(value)
    if not match:
        raise ValueError(f"{value!r} is not a size; use a number and a unit such as 2GiB or 512MiB")
    number, unit = match.groups()
    if unit.upper() in DECIMAL_UNITS:
        binary = DECIMAL_UNITS[unit.upper()]
        raise ValueError(
            f"{value!r} is not a size: {unit} is ambiguous (decimal or binary); "
            f"write {number}{binary} for binary units"
        )
    factor = UNITS.get(unit.upper())
    if factor is None:
        raise ValueError(
            f"{value!r} has an unknown unit {unit!r}; use B, KiB, MiB, GiB, TiB (or K, M, G, T)"
        )
    size = int(float(number) * factor)
    if size <= 0:
        raise ValueError("a size must be positive")
    return size


def format_size(size: int) -> str:
    """``2147483648`` → ``2 GiB``; exact binary units when they divide evenly."""
    for unit, factor in (("TiB", 1024**4), ("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if size >= factor:
            value = size / factor
            return f"{value:.0f} {unit}" if size % factor == 0 else f"{value:.1f} {unit}"
    return f"{size} B"
