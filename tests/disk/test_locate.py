"""Naming what holds a byte of a disk: the GPT, a partition, a file in ext4 or FAT."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from diskloop import ESP_START, FILES, FIXED, ROOT_START, make_disk

from shipyard.build.compare import compare_root_files, locate_difference
from shipyard.disk.locate import locate
from shipyard.errors import DiskError


def test_a_changed_file_in_the_root_is_named(tmp_path: Path) -> None:
    a = make_disk(tmp_path / "a.raw", FILES)
    b = make_disk(tmp_path / "b.raw", {**FILES, "/etc/hostname": "two\n"})
    found = locate_difference(a, b)
    assert found is not None
    assert found.old.where.startswith("partition 2 (root), ext4 block ")
    assert found.old.where.endswith(": /etc/hostname")
    same = tmp_path / "same.raw"
    same.write_bytes(a.read_bytes())
    assert locate_difference(a, same) is None


def test_the_partition_table_and_metadata_are_named(tmp_path: Path) -> None:
    a = make_disk(tmp_path / "a.raw", FILES)
    b = make_disk(tmp_path / "b.raw", FILES, disk_guid=FIXED + "f")
    found = locate_difference(a, b)
    assert found is not None and "GPT header" in found.old.where
    assert "protective MBR" in locate(a, 10).where
    assert "GPT partition entry 2" in locate(a, 1024 + 128 + 5).where
    root = ROOT_START * 512
    assert "ext4 superblock" in locate(a, root + 1100).where
    assert "FAT boot sector" in locate(a, ESP_START * 512 + 3).where


def test_files_and_folders_on_the_esp_are_named(tmp_path: Path) -> None:
    a = make_disk(tmp_path / "a.raw", FILES, esp={"EFI/BOOT/grub.cfg": "set timeout=0\n"})
    data = a.read_bytes()
    where = locate(a, data.index(b"set timeout=0", ESP_START * 512) + 4).where
    assert where.startswith("partition 1 (esp), FAT cluster ")
    assert where.endswith(": /EFI/BOOT/GRUB.CFG")
    where = locate(a, data.index(b"GRUB    CFG", ESP_START * 512)).where
    assert where.endswith(": /EFI/BOOT (a directory)")


def test_root_files_added_removed_and_changed(tmp_path: Path) -> None:
    a = make_disk(tmp_path / "a.raw", FILES)
    b = make_disk(
        tmp_path / "b.raw",
        {"/etc/hostname": "two\n", "/usr/lib/big": FILES["/usr/lib/big"], "/etc/new": "n\n"},
    )
    diff = compare_root_files(a, b)
    assert diff.added == ("/etc/new",)
    assert diff.removed == ("/etc/motd",)
    assert diff.changed == (("/etc/hostname", "content"),)


def test_a_disk_without_gpt_is_one_sentence(tmp_path: Path) -> None:
    plain = tmp_path / "plain.raw"
    plain.write_bytes(b"\0" * 1024 * 1024)
    with pytest.raises(DiskError, match=r"plain\.raw"):
        locate(plain, 5000)


def test_disks_of_the_same_files_made_seconds_apart_are_the_same(tmp_path: Path) -> None:
    a = make_disk(tmp_path / "a.raw", FILES)
    time.sleep(1.1)
    b = make_disk(tmp_path / "b.raw", FILES)
    assert locate_difference(a, b) is None
