"""Small GPT disks made the same way each time (an ESP and an ext4 root), for tests that
compare or read disks without building an image."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from shipyard.build.reproducible import clamp_times, fix_inode_times

ESP_START, ESP_SECTORS = 2048, 69632  # FAT32 needs about 33 MiB at one sector a cluster
ROOT_START, ROOT_SECTORS = 71680, 100000
FIXED = "11111111-2222-3333-4444-55555555555"


def make_disk(
    path: Path,
    files: dict[str, str],
    esp: dict[str, str] | None = None,
    disk_guid: str = FIXED + "0",
) -> Path:
    """A small GPT disk: an ESP (FAT32) and a root (ext4) holding ``files``, made the same
    way each time so that two disks differ only where their inputs do."""
    tree = path.with_suffix(".tree")
    for name, text in files.items():
        (tree / name.lstrip("/")).parent.mkdir(parents=True, exist_ok=True)
        (tree / name.lstrip("/")).write_text(text)
    clamp_times(tree, 1700000000)
    with open(path, "wb") as fh:
        fh.truncate(96 * 1024 * 1024)
    table = (
        f"label: gpt\nlabel-id: {disk_guid}\n"
        f"start={ESP_START}, size={ESP_SECTORS}, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, "
        f'uuid={FIXED}6, name="esp"\n'
        f"start={ROOT_START}, size={ROOT_SECTORS}, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, "
        f'uuid={FIXED}7, name="root"\n'
    )
    subprocess.run(["sfdisk", "-q", str(path)], input=table, text=True, check=True)
    env = {**os.environ, "E2FSPROGS_FAKE_TIME": "1700000000"}
    offset = f"offset={ROOT_START * 512},hash_seed={FIXED}9,lazy_itable_init=1"
    subprocess.run(
        ["mkfs.ext4", "-q", "-F", "-d", str(tree), "-U", f"{FIXED}8", "-E", offset, str(path),
         f"{ROOT_SECTORS // 2}k"],
        check=True, env=env,
    )  # fmt: skip
    # mkfs.ext4 copies each file's change time from the host, where it is the moment the
    # tree was written; the builder's own fix makes two disks of one tree the same.
    fix_inode_times(path, ROOT_START * 512, tree, 1700000000, path.with_suffix(".log"))
    subprocess.run(
        ["mkfs.fat", "-F", "32", "-S", "512", "-s", "1", "-i", "12345678",
         f"--offset={ESP_START}", str(path), str(ESP_SECTORS // 2)],
        check=True, capture_output=True,
    )  # fmt: skip
    target = f"{path}@@{ESP_START * 512}"
    for name, text in (esp or {}).items():
        source = path.with_suffix(".esp")
        source.write_text(text)
        env = {**os.environ, "MTOOLS_SKIP_CHECK": "1"}
        for parent in reversed(Path(name).parents[:-1]):
            subprocess.run(["mmd", "-D", "s", "-i", target, f"::{parent}"], env=env,
                           capture_output=True)  # fmt: skip
        subprocess.run(["mcopy", "-m", "-i", target, str(source), f"::{name}"], env=env,
                       check=True)  # fmt: skip
    return path


FILES = {"/etc/hostname": "one\n", "/usr/lib/big": "x" * 100_000, "/etc/motd": "hello\n"}
