"""Read a built image back without mounting it: debugfs for ext4, mtools for FAT."""

from __future__ import annotations

from pathlib import Path

from shipyard.errors import DiskError
from shipyard.proc import run


def ext4_at(image: Path, offset: int) -> str:
    """The name e2fsprogs opens for the filesystem at ``offset`` of ``image``."""
    # The unix I/O manager of e2fsprogs takes options after '?'.
    return f"{image}?offset={offset}"


def read_root_file(image: Path, offset: int, path: str) -> str:
    """The text of ``path`` in the ext4 filesystem at ``offset`` of ``image``."""
    out = run(
        ["debugfs", "-R", f"cat {path}", ext4_at(image, offset)],
        error=DiskError,
        what=f"read {path} from the image",
    )
    if "File not found" in out.stderr:
        raise DiskError(f"{path} is not in the image")
    return out.stdout


def root_file_exists(image: Path, offset: int, path: str) -> bool:
    out = run(["debugfs", "-R", f"stat {path}", ext4_at(image, offset)], check=False)
    return out.returncode == 0 and "not found" not in out.stderr.lower()


def list_root_dir(image: Path, offset: int, path: str) -> list[str]:
    out = run(
        ["debugfs", "-R", f"ls -p {path}", ext4_at(image, offset)], error=DiskError, what="ls"
    )
    names = []
    for line in out.stdout.splitlines():
        fields = line.strip("/").split("/")
        if len(fields) >= 5 and fields[4] not in (".", ".."):
            names.append(fields[4])
    return names


def ext4_superblock(image: Path, offset: int) -> dict[str, str]:
    """``dumpe2fs -h`` of the filesystem at ``offset``, as a dict of its fields."""
    out = run(
        ["dumpe2fs", "-h", ext4_at(image, offset)], error=DiskError, what="read the superblock"
    )
    fields: dict[str, str] = {}
    for line in out.stdout.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields[key.strip()] = value.strip()
    return fields


def list_fat_dir(image: Path, offset: int, path: str) -> list[str]:
    """Names in ``path`` of the FAT filesystem at ``offset`` of ``image``."""
    out = run(
        ["mdir", "-b", "-i", f"{image}@@{offset}", f"::{path}"],
        env={"MTOOLS_SKIP_CHECK": "1"},
        error=DiskError,
        what=f"list {path} on the EFI system partition",
    )
    return [line.rstrip("/").rsplit("/", 1)[-1] for line in out.stdout.split()]
