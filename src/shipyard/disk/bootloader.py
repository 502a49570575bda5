"""Install GRUB for each firmware the manifest asks for, by writing bytes into the image.

``grub-bios-setup`` refuses image files, but its job on a GPT disk is small: core.img
goes into the BIOS boot partition; boot.img goes into the MBR, keeping the partition
table bytes; boot.img learns core.img's first sector, and core.img's first sector
learns where the rest of core.img lies.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from shipyard.disk.filesystems import make_esp
from shipyard.disk.grub import GRUB_LIB, make_core_image
from shipyard.disk.layout import SECTOR, DiskLayout
from shipyard.errors import DiskError

# Offsets inside GRUB's i386-pc boot.img (grub-core/boot/i386/pc/boot.S).
BOOT_KERNEL_SECTOR = 0x5C  # 8-byte LBA of core.img's first sector
BOOT_DRIVE_CHECK = 0x66  # a jump skipped (two NOPs) for hard disks
MBR_KEEP_FROM = 0x1B8  # disk signature, partition table and 0x55AA stay as sfdisk wrote them
# The last blocklist entry of diskboot.img (core.img's first sector): start LBA (8 bytes),
# sector count (2 bytes), load segment (2 bytes, preset by GRUB).
BLOCKLIST_OFFSET = SECTOR - 12

EFI_BOOT_NAMES = {"amd64": "BOOTX64.EFI", "arm64": "BOOTAA64.EFI"}


def install_uefi(image: Path, layout: DiskLayout, architecture: str, work: Path, log: Path) -> None:
    efi = make_core_image("uefi", architecture, layout, work, work / EFI_BOOT_NAMES[architecture])
    make_esp(image, layout, {f"/EFI/BOOT/{EFI_BOOT_NAMES[architecture]}": efi}, log)


def install_bios(image: Path, layout: DiskLayout, architecture: str, work: Path, log: Path) -> None:
    part = layout.find("bios")
    if part is None:
        raise DiskError("BIOS boot needs a BIOS boot partition in the layout")
    core_path = make_core_image("bios", architecture, layout, work, work / "core.img")
    core = bytearray(core_path.read_bytes())
    if len(core) % SECTOR:
        core += bytes(SECTOR - len(core) % SECTOR)
    if len(core) > part.size:
        raise DiskError(
            f"GRUB's core image ({len(core)} bytes) does not fit the BIOS boot partition"
        )
    sectors = len(core) // SECTOR
    # The rest of core.img follows its first sector contiguously.
    core[BLOCKLIST_OFFSET : BLOCKLIST_OFFSET + 8] = (part.start_sector + 1).to_bytes(8, "little")
    core[BLOCKLIST_OFFSET + 8 : BLOCKLIST_OFFSET + 10] = (sectors - 1).to_bytes(2, "little")

    boot = bytearray((GRUB_LIB / "i386-pc" / "boot.img").read_bytes())
    if len(boot) != SECTOR:
        raise DiskError("GRUB's boot.img is not one sector long")
    boot[BOOT_KERNEL_SECTOR : BOOT_KERNEL_SECTOR + 8] = part.start_sector.to_bytes(8, "little")
    boot[BOOT_DRIVE_CHECK : BOOT_DRIVE_CHECK + 2] = b"\x90\x90"

    fd = os.open(image, os.O_RDWR)
    try:
        mbr = bytearray(os.pread(fd, SECTOR, 0))
        if mbr[510:512] != b"\x55\xaa":
            raise DiskError("the image has no protective MBR; write the partition table first")
        mbr[:MBR_KEEP_FROM] = boot[:MBR_KEEP_FROM]
        os.pwrite(fd, bytes(mbr), 0)
        os.pwrite(fd, bytes(core), part.start)
        os.fsync(fd)
    finally:
        os.close(fd)


BootloaderInstaller = Callable[[Path, DiskLayout, str, Path, Path], None]

BOOTLOADERS: dict[str, BootloaderInstaller] = {
    "uefi": install_uefi,
    "bios": install_bios,
}
