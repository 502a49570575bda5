"""Filesystems built straight into the image file at a partition's offset."""

from __future__ import annotations

from pathlib import Path

from shipyard.disk.layout import SECTOR, DiskLayout, PartitionPlan
from shipyard.errors import DiskError
from shipyard.proc import run


def make_root_filesystem(image: Path, layout: DiskLayout, tree: Path, log_file: Path) -> None:
    """ext4 of the root partition's size, filled from ``tree`` (mkfs.ext4 -d)."""
    part = layout.root
    run(
        [
            "mkfs.ext4",
            "-q",
            "-F",
            "-d",
            tree,
            "-U",
            layout.root_fs_uuid,
            "-L",
            layout.root_label,
            # Lazy init: the image file is sparse, so untouched tables cost nothing;
            # the kernel finishes the work in the background on first mount.
            "-E",
            f"offset={part.start},lazy_itable_init=1,lazy_journal_init=1,"
            f"hash_seed={layout.root_hash_seed}",
            image,
            f"{part.size // 1024}k",
        ],
        error=DiskError,
        what="build the root filesystem",
        log_file=log_file,
    )


def make_esp(image: Path, layout: DiskLayout, files: dict[str, Path], log_file: Path) -> None:
    """FAT EFI system partition holding ``files`` (image path → host file), via mtools."""
    part = _need(layout, "esp")
    run(
        [
            "mkfs.fat",
            "--invariant",  # no build time in the boot sector or the label's entry
            "-F",
            "32",
            "-S",
            str(SECTOR),
            "-s",
            "1",
            "-n",
            "ESP",
            "-i",
            layout.esp_volume_id,
            f"--offset={part.start_sector}",
            image,
            str(part.size // 1024),
        ],
        error=DiskError,
        what="format the EFI system partition",
        log_file=log_file,
    )
    target = f"{image}@@{part.start}"
    env = {"MTOOLS_SKIP_CHECK": "1"}
    made: set[str] = set()
    for dest in sorted(files):
        parents = Path(dest).parents
        for parent in reversed(parents):
            name = str(parent)
            if name in ("/", ".") or name in made:
                continue
            run(["mmd", "-i", target, f"::{name}"], env=env, error=DiskError, what="write the ESP")
            made.add(name)
        run(
            ["mcopy", "-o", "-i", target, files[dest], f"::{dest}"],
            env=env,
            error=DiskError,
            what="write the ESP",
        )


def _need(layout: DiskLayout, name: str) -> PartitionPlan:
    part = layout.find(name)
    if part is None:
        raise DiskError(f"the disk layout has no {name} partition")
    return part
