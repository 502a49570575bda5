"""The files of an image's ext4 root, extracted with debugfs (no mount), to compare two."""

from __future__ import annotations

import hashlib
import os
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

from shipyard.disk.readback import ext4_at
from shipyard.errors import DiskError
from shipyard.proc import run

EXTRACT_SECONDS = 600


@dataclass(frozen=True)
class Entry:
    kind: str  # "file", "dir", "link", "other"
    mode: int
    uid: int
    gid: int
    content: str  # a file's sha256, a link's target, "" otherwise


@dataclass(frozen=True)
class TreeDiff:
    added: tuple[str, ...]
    removed: tuple[str, ...]
    changed: tuple[tuple[str, str], ...]  # (path, what differs: "content", "mode", ...)


def root_entries(image: Path, start: int) -> dict[str, Entry]:
    """Every path of the ext4 filesystem at ``start`` of ``image``, with what it holds."""
    with tempfile.TemporaryDirectory(prefix="shipyard-tree-") as work:
        run(
            ["debugfs", "-R", f"rdump / {work}", ext4_at(image, start)],
            error=DiskError,
            what=f"extract the files of {image.name}",
            timeout=EXTRACT_SECONDS,
        )
        return _walk(Path(work))


def _walk(top: Path) -> dict[str, Entry]:
    entries: dict[str, Entry] = {}
    for folder, dirs, files in os.walk(top):
        for name in [*dirs, *files]:
            path = Path(folder) / name
            info = path.lstat()
            if stat.S_ISLNK(info.st_mode):
                kind, content = "link", os.readlink(path)
            elif stat.S_ISDIR(info.st_mode):
                kind, content = "dir", ""
            elif stat.S_ISREG(info.st_mode):
                kind, content = "file", _sha256(path)
            else:
                kind, content = "other", ""
            key = "/" + str(path.relative_to(top))
            entries[key] = Entry(
                kind, stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid, content
            )
    return entries


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def compare_trees(old: dict[str, Entry], new: dict[str, Entry]) -> TreeDiff:
    changed = []
    for path in sorted(old.keys() & new.keys()):
        a, b = old[path], new[path]
        what = [
            label
            for label, differs in (
                ("kind", a.kind != b.kind),
                ("content", a.content != b.content),
                ("mode", a.mode != b.mode),
                ("owner", (a.uid, a.gid) != (b.uid, b.gid)),
            )
            if differs
        ]
        if what:
            changed.append((path, ", ".join(what)))
    return TreeDiff(
        added=tuple(sorted(new.keys() - old.keys())),
        removed=tuple(sorted(old.keys() - new.keys())),
        changed=tuple(changed),
    )
