"""GRUB written by hand: the bytes grub-bios-setup would write, the ESP's loader, the menu."""

from __future__ import annotations

from pathlib import Path

import pytest

from shipyard.disk.bootloader import (
    BLOCKLIST_OFFSET,
    BOOT_KERNEL_SECTOR,
    install_bios,
    install_uefi,
)
from shipyard.disk.grub import GRUB_LIB, grub_cfg
from shipyard.disk.layout import SECTOR, DiskLayout, plan_layout
from shipyard.disk.partition import write_partition_table
from shipyard.disk.readback import list_fat_dir

pytestmark = pytest.mark.skipif(
    not (GRUB_LIB / "i386-pc").is_dir() or not (GRUB_LIB / "x86_64-efi").is_dir(),
    reason="GRUB's i386-pc and x86_64-efi modules are not installed (make test installs them)",
)


@pytest.fixture
def disk(tmp_path: Path) -> tuple[Path, DiskLayout]:
    image = tmp_path / "disk.raw"
    layout = plan_layout(1024**3, ("uefi", "bios"))
    with open(image, "wb") as fh:
        fh.truncate(layout.size)
    write_partition_table(image, layout)
    return image, layout


def test_bios_boot_sector_points_at_core_image(
    disk: tuple[Path, DiskLayout], tmp_path: Path
) -> None:
    image, layout = disk
    before = image.read_bytes()[:SECTOR]
    install_bios(image, layout, "amd64", tmp_path, tmp_path / "log")
    data = image.read_bytes()
    mbr = data[:SECTOR]
    boot_img = (GRUB_LIB / "i386-pc" / "boot.img").read_bytes()
    bios = layout.find("bios")
    assert bios is not None
    # GRUB's code, then the partition table exactly as sfdisk wrote it.
    assert mbr[:BOOT_KERNEL_SECTOR] == boot_img[:BOOT_KERNEL_SECTOR]
    assert mbr[0x1B8:] == before[0x1B8:]
    assert mbr[510:] == b"\x55\xaa"
    assert int.from_bytes(mbr[BOOT_KERNEL_SECTOR : BOOT_KERNEL_SECTOR + 8], "little") == (
        bios.start_sector
    )
    core_first = data[bios.start : bios.start + SECTOR]
    start = int.from_bytes(core_first[BLOCKLIST_OFFSET : BLOCKLIST_OFFSET + 8], "little")
    count = int.from_bytes(core_first[BLOCKLIST_OFFSET + 8 : BLOCKLIST_OFFSET + 10], "little")
    assert start == bios.start_sector + 1
    core_len = (tmp_path / "core.img").stat().st_size
    assert count == -(-core_len // SECTOR) - 1
    # The rest of core.img sits right behind its first sector.
    core = (tmp_path / "core.img").read_bytes()
    assert data[bios.start + SECTOR : bios.start + len(core)] == core[SECTOR:]


def test_uefi_loader_is_on_the_esp(disk: tuple[Path, DiskLayout], tmp_path: Path) -> None:
    image, layout = disk
    install_uefi(image, layout, "amd64", tmp_path, tmp_path / "log")
    esp = layout.find("esp")
    assert esp is not None
    assert list_fat_dir(image, esp.start, "/EFI/BOOT") == ["BOOTX64.EFI"]


def test_menu_boots_the_root_by_uuid_on_the_serial_console() -> None:
    layout = plan_layout(1024**3, ("uefi",))
    cfg = grub_cfg(layout)
    assert f"root=UUID={layout.root_fs_uuid}" in cfg
    assert "console=ttyS0" in cfg
    assert "linux /vmlinuz " in cfg and "initrd /initrd.img" in cfg


def test_without_an_initramfs_the_kernel_finds_the_root_by_partition_id() -> None:
    layout = plan_layout(1024**3, ("uefi", "bios"))
    cfg = grub_cfg(layout, initramfs="never")
    first = cfg.split("menuentry")[1]
    assert f"root=PARTUUID={layout.root.uuid.lower()} rootfstype=ext4 rootwait" in first
    assert "root=UUID=" not in first and "initrd" not in first
    # The previous kernel stays the safe way back.
    assert "initrd /initrd.img.old" in cfg.split("menuentry")[2]


def test_the_cloud_menu_skips_the_initramfs_only_on_nitro() -> None:
    layout = plan_layout(1024**3, ("uefi", "bios"))
    first = grub_cfg(layout, initramfs="except-nitro").split("menuentry")[1]
    nitro, _, other = first.partition("else")
    assert "smbios --type 1 --get-string 4 --set manufacturer" in nitro
    assert 'if [ "$manufacturer" = "Amazon EC2" ]; then' in nitro
    assert "root=PARTUUID=" in nitro and "initrd" not in nitro
    assert f"root=UUID={layout.root_fs_uuid}" in other and "initrd /initrd.img\n" in other
