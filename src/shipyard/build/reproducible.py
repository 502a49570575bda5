"""Same inputs, same disk: the time every file is clamped to, and filesystem times fixed.

SOURCE_DATE_EPOCH (the reproducible-builds convention) is the manifest's
``source_date_epoch``, else the newest changelog or copyright file of the installed
packages (Debian's own reproducible builds date them): a time that changes only when the
packages do. No file in the root is left newer than it,
and the times mkfs.ext4 takes from the build host (change and creation times, which no
system call can set) are rewritten in the finished filesystem.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from shipyard.disk.readback import ext4_at
from shipyard.errors import BuildError
from shipyard.proc import run

CHANGELOGS = "usr/share/doc"


def source_date_epoch(configured: int | None, root: Path) -> int:
    if configured is not None:
        return configured
    newest = 0
    docs = root / CHANGELOGS
    if docs.is_dir():
        for package in os.scandir(docs):
            for name in ("changelog.Debian.gz", "copyright"):
                try:
                    newest = max(newest, int((Path(package.path) / name).lstat().st_mtime))
                except OSError:
                    continue
    if not newest:
        raise BuildError(
            "the image has no Debian changelog or copyright files to date it by",
            hint="set source_date_epoch in the manifest",
        )
    return newest


def clamp_times(root: Path, epoch: int) -> int:
    """Set every file newer than ``epoch`` in ``root`` to ``epoch``; return how many."""
    clamped = 0
    for folder, dirs, files in os.walk(root):
        for name in [*dirs, *files, ""]:
            path = os.path.join(folder, name) if name else folder
            info = os.lstat(path)
            if info.st_mtime > epoch or info.st_atime > epoch:
                mtime = min(info.st_mtime, epoch)
                os.utime(path, (epoch, mtime), follow_symlinks=False)
                clamped += 1
    return clamped


def fix_inode_times(image: Path, offset: int, root: Path, epoch: int, log_file: Path) -> None:
    """Give every inode mkfs.ext4 made from ``root`` the change and creation time ``epoch``."""
    lines = []
    for path in _image_paths(root):
        quoted = f'"{path}"'  # debugfs takes a backslash as it is, and has no escapes
        for field in ("ctime", "crtime", "atime"):
            lines += [f"sif {quoted} {field} @{epoch}", f"sif {quoted} {field}_extra 0"]
    script = root.parent / "inode-times.debugfs"
    script.write_text("\n".join(lines) + "\n")
    try:
        run(
            ["debugfs", "-w", "-f", script, ext4_at(image, offset)],
            error=BuildError,
            what="set the filesystem's inode times",
            log_file=log_file,
        )
    finally:
        script.unlink(missing_ok=True)


def _image_paths(root: Path) -> list[str]:
    """Every path in ``root`` as the image names it, "/" first; names debugfs cannot take
    (with a line break or a double quote) are left out."""
    paths = ["/", "/lost+found"]
    for folder, dirs, files in os.walk(root):
        relative = os.path.relpath(folder, root)
        base = "" if relative == "." else "/" + relative
        paths += [f"{base}/{name}" for name in [*dirs, *files] if not {"\n", '"'} & set(name)]
    return paths


@contextmanager
def dated(epoch: int) -> Iterator[None]:
    """SOURCE_DATE_EPOCH (and e2fsprogs' own variable) set for the tools run in the block.

    TZ is UTC too: FAT stores local times, so mtools would write the ESP's entries
    differently on a host in another time zone.
    """
    saved = {k: os.environ.get(k) for k in ("SOURCE_DATE_EPOCH", "E2FSPROGS_FAKE_TIME", "TZ")}
    os.environ.update(SOURCE_DATE_EPOCH=str(epoch), E2FSPROGS_FAKE_TIME=str(epoch), TZ="UTC")
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
