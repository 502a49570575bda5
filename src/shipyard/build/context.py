"""The mutable state of one build, kept apart from the frozen manifest."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shipyard.cleanup import Cleanup
from shipyard.manifest.schema import Manifest
from shipyard.record import StageTiming

if TYPE_CHECKING:
    from shipyard.build.cache import Cache
    from shipyard.disk.layout import DiskLayout


@dataclass
class BuildContext:
    """Everything a stage may read or fill in. Stages are ``verb_noun(ctx)`` functions."""

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
    use_cache: bool = True
    stages: dict[str, StageTiming] = field(default_factory=dict)
    layout: DiskLayout | None = None
    packages: dict[str, str] = field(default_factory=dict)
    kernel: str | None = None
    base_key: str | None = None
    base_cached: bool = False
    tools: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

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
