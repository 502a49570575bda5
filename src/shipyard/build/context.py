"""The state of one build, kept apart from the frozen manifest.

The context holds what is known before the first stage runs (the manifest, the disk
layout, where things go). What a stage finds out it returns as a frozen result, and the
orchestrator hands it to whoever needs it: nothing is filled in later.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from shipyard.build.dpkg_status import InstalledPackage
from shipyard.cleanup import Cleanup
from shipyard.disk.layout import DiskLayout
from shipyard.manifest.schema import Manifest
from shipyard.record import Artifact

if TYPE_CHECKING:
    from shipyard.build.cache import Cache


@dataclass(frozen=True)
class BuildContext:
    """Everything a stage may read. Stages are ``verb_noun(ctx)`` functions."""

    manifest: Manifest
    manifest_path: Path
    manifest_sha256: str
    build_id: str
    name: str
    build_dir: Path  # <out>/<build_id>: what the user keeps
    work_dir: Path  # scratch space, removed when the build ends
    cache: Cache
    cleanup: Cleanup
    log_file: Path
    layout: DiskLayout
    use_cache: bool = True

    @property
    def root(self) -> Path:
        """The image's root filesystem tree, built in a directory."""
        return self.work_dir / "root"

    @property
    def raw_image(self) -> Path:
        return self.build_dir / "disk.raw"

    def in_root(self, path: str) -> Path:
        """Host path of the absolute image path ``path``."""
        return self.root / path.lstrip("/")


@dataclass(frozen=True)
class BaseSystem:
    """What bootstrap made the root from: the cached base tree and how it was made."""

    key: str  # the base cache key
    reused: bool  # an existing cached base was used
    mmdebstrap: str  # the version of mmdebstrap that made it


@dataclass(frozen=True)
class AddedFile:
    """A file a provision ``file:`` step put in the image."""

    path: str  # absolute, inside the image
    sha256: str


@dataclass(frozen=True)
class ImageContents:
    """What finalize found installed in the image."""

    packages: Mapping[str, str]  # name → version, sorted by name
    kernel: str  # the version /vmlinuz points at
    installed: tuple[InstalledPackage, ...] = ()  # the same packages, in full
    added_files: tuple[AddedFile, ...] = ()


@dataclass(frozen=True)
class ImageFiles:
    """The disk image in every format the manifest asks for, with checksums."""

    formats: Mapping[str, Artifact]
