"""Where a byte of a disk image lives: the partition table, a partition, and in an ext4 or
FAT filesystem the file or the metadata that holds it. Read without mounting anything."""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from pathlib import Path

from shipyard.disk.partition import read_partition_table
from shipyard.disk.readback import ext4_at, ext4_superblock
from shipyard.errors import DiskError
from shipyard.proc import run

CHUNK = 4 * 1024 * 1024
EXT4_MAGIC_AT = 1080  # s_magic, 0x438 into the filesystem
# Inodes of ext4 that no directory names.
EXT4_SPECIAL = {1: "bad blocks", 2: "the root directory", 7: "reserved GDT blocks", 8: "journal"}


@dataclass(frozen=True)
class Partition:
    number: int
    name: str
    type_guid: str
    start: int  # bytes
    size: int  # bytes


@dataclass(frozen=True)
class Location:
    """What holds one byte: ``where`` says it in words for a person."""

    offset: int
    partition: Partition | None
    filesystem: str | None  # "ext4", "vfat", or None for raw bytes or no partition
    where: str


def first_difference(a: Path, b: Path) -> int | None:
    """The offset of the first byte where two files differ (or one ends); None if equal."""
    try:
        with open(a, "rb") as fa, open(b, "rb") as fb:
            offset = 0
            while True:
                ca, cb = fa.read(CHUNK), fb.read(CHUNK)
                if ca != cb:
                    for i, (x, y) in enumerate(zip(ca, cb, strict=False)):
                        if x != y:
                            return offset + i
                    return offset + min(len(ca), len(cb))
                if not ca:
                    return None
                offset += len(ca)
    except OSError as exc:
        raise DiskError(f"cannot compare {a} and {b}: {exc.strerror or exc}") from exc


def partitions(image: Path) -> tuple[Partition, ...]:
    table = read_partition_table(image)
    if table.get("label") != "gpt":
        raise DiskError(f"{image} has no GPT partition table")
    sector = int(table.get("sectorsize", 512))
    return tuple(
        Partition(
            number=index,
            name=str(p.get("name", "")),
            type_guid=str(p.get("type", "")),
            start=int(p["start"]) * sector,
            size=int(p["size"]) * sector,
        )
        for index, p in enumerate(table.get("partitions", []), start=1)
    )


def locate(image: Path, offset: int) -> Location:
    """Name what holds byte ``offset`` of ``image``."""
    parts = partitions(image)
    size = image.stat().st_size
    for part in parts:
        if part.start <= offset < part.start + part.size:
            label = f"partition {part.number}" + (f" ({part.name})" if part.name else "")
            kind, where = _in_partition(image, part, offset - part.start)
            return Location(offset, part, kind, f"{label}, {where}")
    if offset < 512:
        where = "the protective MBR (boot code or disk signature)"
    elif offset < 1024:
        where = "the GPT header (disk GUID or checksums)"
    elif offset < 1024 + 128 * 128:
        where = f"GPT partition entry {(offset - 1024) // 128 + 1} (type, GUID or name)"
    elif offset >= size - 33 * 512:
        where = "the backup GPT at the end of the disk"
    else:
        where = "space outside every partition"
    return Location(offset, None, None, where)


def _in_partition(image: Path, part: Partition, inner: int) -> tuple[str | None, str]:
    with open(image, "rb") as fh:
        fh.seek(part.start)
        head = fh.read(4096)
    if len(head) > EXT4_MAGIC_AT + 1 and head[EXT4_MAGIC_AT : EXT4_MAGIC_AT + 2] == b"\x53\xef":
        return "ext4", _in_ext4(image, part.start, inner)
    if len(head) >= 512 and head[510:512] == b"\x55\xaa" and head[82:87] == b"FAT32":
        return "vfat", _in_fat32(image, part.start, head, inner)
    return None, f"byte {inner} (no filesystem Shipyard reads: boot code or raw data)"


# ext4, through debugfs on the image at the partition's offset


def _debugfs(image: Path, start: int, request: str) -> str:
    out = run(["debugfs", "-R", request, ext4_at(image, start)], error=DiskError, what="read ext4")
    return out.stdout


def _in_ext4(image: Path, start: int, inner: int) -> str:
    fields = ext4_superblock(image, start)
    try:
        block_size = int(fields["Block size"])
        inode_size = int(fields["Inode size"])
        per_group = int(fields["Inodes per group"])
    except (KeyError, ValueError) as exc:
        raise DiskError(f"{image}: the ext4 superblock at byte {start} is unreadable") from exc
    block = inner // block_size
    if inner < 1024:
        return "ext4 boot area (unused by the filesystem)"
    if inner < 2048:
        return "ext4 superblock (UUID, times, hash seed, counts)"
    answer = _debugfs(image, start, f"icheck {block}").splitlines()
    inode = _number(answer[1].split("\t")[-1]) if len(answer) > 1 else None
    if inode:
        return f"ext4 block {block}: {_inode_name(image, start, inode)}"
    table = _inode_table_of(image, start, block)
    if table is not None:
        group, first_block = table
        first = group * per_group + (block - first_block) * block_size // inode_size + 1
        count = block_size // inode_size
        within = first + (inner % block_size) // inode_size
        return (
            f"ext4 inode table, inode {within} ({_inode_name(image, start, within)}); "
            f"that block holds inodes {first}-{first + count - 1}"
        )
    return f"ext4 block {block}: metadata (superblock copy, group descriptors or a bitmap)"


def _number(text: str) -> int | None:
    text = text.strip()
    return int(text) if text.isdigit() else None


def _inode_name(image: Path, start: int, inode: int) -> str:
    if inode in EXT4_SPECIAL:
        return EXT4_SPECIAL[inode]
    lines = _debugfs(image, start, f"ncheck {inode}").splitlines()[1:]
    paths = [re.sub("/+", "/", line.split("\t", 1)[1]) for line in lines if "\t" in line]
    return paths[0] if paths else f"inode {inode}, which no directory names"


def _inode_table_of(image: Path, start: int, block: int) -> tuple[int, int] | None:
    """(group, first block of its inode table) when ``block`` is in an inode table."""
    out = run(["dumpe2fs", ext4_at(image, start)], error=DiskError, what="read ext4 groups")
    group = -1
    for line in out.stdout.splitlines():
        head = re.match(r"Group (\d+):", line)
        if head:
            group = int(head[1])
        table = re.search(r"Inode table at (\d+)-(\d+)", line)
        if table and int(table[1]) <= block <= int(table[2]):
            return group, int(table[1])
    return None


# FAT32, parsed here: its boot sector, one FAT, and the directory tree


def _in_fat32(image: Path, start: int, boot: bytes, inner: int) -> str:
    sector, per_cluster, reserved, fats = struct.unpack_from("<HBHB", boot, 11)
    fat_sectors = struct.unpack_from("<I", boot, 36)[0]
    root_cluster = struct.unpack_from("<I", boot, 44)[0]
    if not sector or not per_cluster:
        return "a FAT boot sector that names no geometry"
    fat_start = reserved * sector
    data_start = fat_start + fats * fat_sectors * sector
    if inner < sector:
        return "FAT boot sector (volume ID, label)"
    if inner < fat_start:
        return "FAT reserved sectors (FS information, backup boot sector)"
    if inner < data_start:
        number = (inner - fat_start) // (fat_sectors * sector) + 1
        return f"FAT {number} (cluster chains)"
    cluster_size = sector * per_cluster
    cluster = (inner - data_start) // cluster_size + 2
    with open(image, "rb") as fh:
        fh.seek(start + fat_start)
        fat = fh.read(fat_sectors * sector)

    def chain(first: int) -> list[int]:
        seen: list[int] = []
        while 2 <= first < 0x0FFFFFF8 and first * 4 + 4 <= len(fat) and len(seen) < 1 << 20:
            seen.append(first)
            first = struct.unpack_from("<I", fat, first * 4)[0] & 0x0FFFFFFF
            if first in seen[-1:]:
                break
        return seen

    def read_clusters(numbers: list[int]) -> bytes:
        data = bytearray()
        with open(image, "rb") as fh:
            for n in numbers:
                fh.seek(start + data_start + (n - 2) * cluster_size)
                data += fh.read(cluster_size)
        return bytes(data)

    owner: dict[int, str] = {}
    pending = [("", root_cluster)]
    while pending:
        folder, first = pending.pop()
        clusters = chain(first)
        for n in clusters:
            owner[n] = f"{folder or '/'} (a directory)"
        entries = read_clusters(clusters)
        for pos in range(0, len(entries) - 31, 32):
            entry = entries[pos : pos + 32]
            if entry[0] == 0:
                break
            if entry[0] == 0xE5 or entry[11] == 0x0F or entry[11] & 0x08:
                continue  # deleted, a long-name part, or the volume label
            name = entry[:8].decode("ascii", "replace").rstrip()
            ext = entry[8:11].decode("ascii", "replace").rstrip()
            full = f"{folder}/{name}" + (f".{ext}" if ext else "")
            if name in (".", ".."):
                continue
            first_cluster = (struct.unpack_from("<H", entry, 20)[0] << 16) | struct.unpack_from(
                "<H", entry, 26
            )[0]
            if entry[11] & 0x10:
                pending.append((full, first_cluster))
            else:
                for n in chain(first_cluster):
                    owner[n] = full
    holder = owner.get(cluster)
    return f"FAT cluster {cluster}: " + (holder or "free space")
