"""What differs between two builds: packages added, removed, upgraded, and the disks."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from shipyard.debversion import compare_versions
from shipyard.disk.locate import Location, first_difference, locate, partitions
from shipyard.disk.tree import TreeDiff, compare_trees, root_entries
from shipyard.errors import DiskError
from shipyard.record import BuildRecord


@dataclass(frozen=True)
class VersionChange:
    name: str
    old: str
    new: str


@dataclass(frozen=True)
class DiskComparison:
    format: str
    same: bool
    old_sha256: str
    new_sha256: str


@dataclass(frozen=True)
class BuildDiff:
    old: str  # build id
    new: str
    added: tuple[VersionChange, ...]  # old is ""
    removed: tuple[VersionChange, ...]  # new is ""
    upgraded: tuple[VersionChange, ...]
    downgraded: tuple[VersionChange, ...]
    disks: tuple[DiskComparison, ...]  # formats both builds have
    manifest_same: bool

    @property
    def packages_same(self) -> bool:
        return not (self.added or self.removed or self.upgraded or self.downgraded)


def diff_builds(old: BuildRecord, new: BuildRecord) -> BuildDiff:
    """Compare two build records (package lists from build.json, disks by sha256)."""
    a, b = old.packages, new.packages
    changed = [VersionChange(n, a[n], b[n]) for n in sorted(a.keys() & b.keys()) if a[n] != b[n]]
    return BuildDiff(
        old=old.id,
        new=new.id,
        added=tuple(VersionChange(n, "", b[n]) for n in sorted(b.keys() - a.keys())),
        removed=tuple(VersionChange(n, a[n], "") for n in sorted(a.keys() - b.keys())),
        upgraded=tuple(c for c in changed if compare_versions(c.new, c.old) > 0),
        downgraded=tuple(c for c in changed if compare_versions(c.new, c.old) <= 0),
        disks=tuple(
            DiskComparison(
                format=fmt,
                same=old.formats[fmt].sha256 == new.formats[fmt].sha256,
                old_sha256=old.formats[fmt].sha256,
                new_sha256=new.formats[fmt].sha256,
            )
            for fmt in old.formats
            if fmt in new.formats
        ),
        manifest_same=old.manifest_sha256 == new.manifest_sha256,
    )


@dataclass(frozen=True)
class DiskDifference:
    """Where two raw disks first differ, seen from each side."""

    offset: int
    old: Location
    new: Location


def locate_difference(old_disk: Path, new_disk: Path) -> DiskDifference | None:
    """The first differing byte of two raw disks and what holds it in each; None if equal."""
    offset = first_difference(old_disk, new_disk)
    if offset is None:
        return None
    return DiskDifference(offset, _locate(old_disk, offset), _locate(new_disk, offset))


def _locate(disk: Path, offset: int) -> Location:
    if offset >= disk.stat().st_size:
        return Location(offset, None, None, "past the end of the disk (the disks differ in size)")
    try:
        return locate(disk, offset)
    except DiskError as exc:  # the byte is known; only naming what holds it failed
        return Location(offset, None, None, f"cannot tell what holds it: {exc}")


def compare_root_files(old_disk: Path, new_disk: Path) -> TreeDiff:
    """Files added, removed and changed between the ext4 roots of two raw disks."""
    return compare_trees(
        root_entries(old_disk, _root(old_disk)), root_entries(new_disk, _root(new_disk))
    )


def _root(disk: Path) -> int:
    found = [p for p in partitions(disk) if p.name == "root"]
    if not found:
        raise DiskError(f"{disk} has no partition named root")
    return found[0].start
