"""Sizes with units, as ``volume.size`` takes them."""

from __future__ import annotations

import pytest

from shipyard.manifest.sizes import format_size, parse_size

GiB = 1024**3
MiB = 1024**2


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("2GiB", 2 * GiB),
        ("2G", 2 * GiB),
        ("2gib", 2 * GiB),
        ("2 GiB", 2 * GiB),
        ("512MiB", 512 * MiB),
        ("512M", 512 * MiB),
        ("1.5G", 3 * GiB // 2),
        ("1TiB", 1024**4),
        ("4096", 4096),
        ("4096B", 4096),
        ("64K", 64 * 1024),
        (" 3GiB ", 3 * GiB),
        (1073741824, GiB),
    ],
)
def test_sizes_parse(text: str | int, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("two", "'two' is not a size; use a number and a unit such as 2GiB"),
        ("2 gigs", "'2 gigs' has an unknown unit 'gigs'"),
        ("2 GB", "'2 GB' is not a size: GB is ambiguous (decimal or binary); write 2GiB"),
        ("500MB", "write 500MiB"),
        ("1tb", "write 1TiB"),
        ("-1G", "'-1G' is not a size"),
        ("2GiB extra", "is not a size"),
        ("", "'' is not a size"),
        ("0", "a size must be positive"),
        (0, "a size must be positive"),
        (-5, "a size must be positive"),
        (True, "not a boolean"),
        (2.5, "expected a size such as 2GiB or 512MiB, got 2.5"),
        (None, "got nothing (null)"),
        ([1], "got a list"),
    ],
)
def test_bad_sizes_say_what_is_accepted(value: object, fragment: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_size(value)
    assert fragment in str(caught.value)


@pytest.mark.parametrize(
    ("size", "text"),
    [(2 * GiB, "2 GiB"), (512 * MiB, "512 MiB"), (3 * GiB // 2, "1.5 GiB"), (100, "100 B")],
)
def test_sizes_format(size: int, text: str) -> None:
    assert format_size(size) == text


def test_volume_size_in_a_manifest_is_bytes(tmp_path: object) -> None:
    from shipyard.manifest.schema import Volume

    assert Volume.model_validate({"size": "3GiB"}).size == 3 * GiB
    assert Volume().model_dump(mode="json")["size"] == 2 * GiB
