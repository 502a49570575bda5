"""The partition layout: alignment, order and what each boot mode needs."""

from __future__ import annotations

from pathlib import Path

import pytest

from shipyard.disk.layout import (
    BIOS_BOOT_TYPE,
    ESP_TYPE,
    ROOT_TYPES,
    MiB,
    plan_layout,
)
from shipyard.disk.partition import read_partition_table, write_partition_table
from shipyard.errors import DiskError


@pytest.mark.parametrize(
    ("modes", "names"),
    [
        (("uefi", "bios"), ["bios", "esp", "root"]),
        (("bios", "uefi"), ["bios", "esp", "root"]),
        (("uefi",), ["esp", "root"]),
        (("bios",), ["bios", "root"]),
    ],
)
def test_partitions_per_boot_mode(modes: tuple[str, ...], names: list[str]) -> None:
    layout = plan_layout(2 * 1024**3, modes)
    assert [p.name for p in layout.partitions] == names
    assert [p.number for p in layout.partitions] == list(range(1, len(names) + 1))


def test_partitions_are_aligned_contiguous_and_root_is_last() -> None:
    layout = plan_layout(2 * 1024**3 + 12345, ("uefi", "bios"))
    assert layout.size == 2 * 1024**3
    offset = 1 * MiB
    for part in layout.partitions:
        assert part.start == offset and part.start % MiB == 0 and part.size % MiB == 0
        offset += part.size
    assert layout.partitions[-1].name == "root"
    assert layout.root.start + layout.root.size == layout.size - 1 * MiB


def test_too_small_a_volume_is_refused_with_the_sizes() -> None:
    with pytest.raises(DiskError, match=r"a 300 MiB volume leaves only .* make volume.size larger"):
        plan_layout(300 * MiB, ("uefi", "bios"))


def test_every_layout_gets_fresh_identifiers() -> None:
    a, b = plan_layout(1024**3, ("uefi",)), plan_layout(1024**3, ("uefi",))
    assert a.root_fs_uuid != b.root_fs_uuid and a.disk_guid != b.disk_guid
    assert len(a.esp_fs_uuid) == 9 and a.esp_fs_uuid[4] == "-"


def test_a_seed_gives_the_same_identifiers_and_another_seed_others() -> None:
    a = plan_layout(1024**3, ("uefi", "bios"), seed="manifest-digest")
    b = plan_layout(1024**3, ("uefi", "bios"), seed="manifest-digest")
    c = plan_layout(1024**3, ("uefi", "bios"), seed="another")
    assert a == b
    ids = lambda x: [x.disk_guid, x.root_fs_uuid, x.esp_volume_id, x.root_hash_seed,  # noqa: E731
                     *(p.uuid for p in x.partitions)]  # fmt: skip
    assert not set(ids(a)) & set(ids(c))
    assert len(set(ids(a))) == len(ids(a))  # no two alike within a disk
    assert all(int(v, 16) >= 0 for v in [a.esp_volume_id]) and len(a.esp_volume_id) == 8


def test_sfdisk_writes_what_was_planned(tmp_path: Path) -> None:
    image = tmp_path / "disk.raw"
    layout = plan_layout(1024**3, ("uefi", "bios"), "amd64")
    with open(image, "wb") as fh:
        fh.truncate(layout.size)
    write_partition_table(image, layout)
    table = read_partition_table(image)
    assert table["label"] == "gpt"
    assert table["id"] == layout.disk_guid
    types = [p["type"] for p in table["partitions"]]
    assert types == [BIOS_BOOT_TYPE, ESP_TYPE, ROOT_TYPES["amd64"]]
    for planned, written in zip(layout.partitions, table["partitions"], strict=True):
        assert written["start"] * 512 == planned.start
        assert written["size"] * 512 == planned.size
        assert written["uuid"] == planned.uuid
        assert written["name"] == planned.name
