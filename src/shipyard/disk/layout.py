"""The partition layout of a Shipyard disk image.

GPT, 1 MiB aligned: a BIOS boot partition for GRUB's core.img (when BIOS boot is
wanted), an EFI system partition (when UEFI boot is wanted), then the root filesystem,
always last so that it can grow into a larger disk at first boot.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass

from shipyard.errors import DiskError
from shipyard.manifest.sizes import format_size

SECTOR = 512
MiB = 1024**2

BIOS_BOOT_TYPE = "21686148-6449-6E6F-744E-656564454649"
ESP_TYPE = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"
# Discoverable Partitions Specification root types, per architecture.
ROOT_TYPES = {
    "amd64": "4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709",
    "arm64": "B921B045-1DF0-41C3-AF44-4C6F280D3FAE",
}

BIOS_BOOT_SIZE = 1 * MiB
ESP_SIZE = 63 * MiB
FIRST_PARTITION_OFFSET = 1 * MiB
# The backup GPT takes the last 33 sectors; keep the last MiB free for alignment.
TAIL_RESERVE = 1 * MiB


@dataclass(frozen=True)
class PartitionPlan:
    number: int
    name: str  # bios | esp | root
    type_guid: str
    uuid: str
    start: int  # bytes from the start of the disk
    size: int  # bytes

    @property
    def start_sector(self) -> int:
        return self.start // SECTOR

    @property
    def sectors(self) -> int:
        return self.size // SECTOR


@dataclass(frozen=True)
class DiskLayout:
    size: int
    disk_guid: str
    partitions: tuple[PartitionPlan, ...]
    root_fs_uuid: str
    root_label: str
    esp_volume_id: str  # FAT volume serial, 8 hex digits: fstab shows it as XXXX-XXXX
    root_hash_seed: str  # ext4's directory hash seed, a UUID

    def find(self, name: str) -> PartitionPlan | None:
        return next((p for p in self.partitions if p.name == name), None)

    @property
    def root(self) -> PartitionPlan:
        part = self.find("root")
        assert part is not None  # plan_layout always adds a root partition
        return part

    @property
    def esp_fs_uuid(self) -> str:
        return f"{self.esp_volume_id[:4]}-{self.esp_volume_id[4:]}".upper()


def plan_layout(
    size: int, boot_modes: tuple[str, ...], architecture: str = "amd64", seed: str | None = None
) -> DiskLayout:
    """Lay out a disk of ``size`` bytes (rounded down to whole MiB) for ``boot_modes``.

    With ``seed`` every identifier (GPT GUIDs, filesystem UUID and serial, hash seed) is
    derived from it, so the same inputs give the same disk; without, they are random.
    """
    size -= size % MiB

    def _guid(label: str) -> str:
        if seed is None:
            return str(uuid.uuid4()).upper()
        digest = hashlib.sha256(f"{seed}\0{label}".encode()).digest()
        return str(uuid.UUID(bytes=digest[:16], version=4)).upper()

    parts: list[PartitionPlan] = []
    offset = FIRST_PARTITION_OFFSET

    def add(name: str, type_guid: str, part_size: int) -> None:
        nonlocal offset
        parts.append(PartitionPlan(len(parts) + 1, name, type_guid, _guid(name), offset, part_size))
        offset += part_size

    if "bios" in boot_modes:
        add("bios", BIOS_BOOT_TYPE, BIOS_BOOT_SIZE)
    if "uefi" in boot_modes:
        add("esp", ESP_TYPE, ESP_SIZE)
    root_size = size - offset - TAIL_RESERVE
    if root_size < 256 * MiB:
        raise DiskError(
            f"a {format_size(size)} volume leaves only {format_size(max(root_size, 0))} "
            "for the root filesystem; make volume.size larger"
        )
    add("root", ROOT_TYPES[architecture], root_size)
    return DiskLayout(
        size=size,
        disk_guid=_guid("disk"),
        partitions=tuple(parts),
        root_fs_uuid=_guid("root filesystem").lower(),
        root_label="root",
        esp_volume_id=_guid("esp serial")[:8] if seed else secrets.token_hex(4).upper(),
        root_hash_seed=_guid("root hash seed").lower(),
    )
