"""The build cache: downloaded .debs and bootstrapped base trees, safe to share.

Layout under the cache root (``$SHIPYARD_CACHE``, else ``$XDG_CACHE_HOME/shipyard``):

- ``debs/<release>-<arch>/``: .deb files apt downloaded, reused by later bootstraps;
- ``base/<key>/``: a bootstrapped root tree, keyed by everything that made it, with
  ``base/<key>.json`` beside it (what made it; its time is the base's age). Builds use
  it read-only as the lower layer of an overlay, so it is never changed in place: a
  refreshed base takes its place by rename, and the old tree is removed a day later;
- ``locks/``: flock files, so concurrent builds wait for one another instead of
  bootstrapping the same base twice or reading half-written files.

Everything is written to a temporary name first and renamed into place.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shipyard import paths
from shipyard.errors import CacheError
from shipyard.files import write_atomic

# Bumped when the way a base tree is made changes, so old bases are not reused.
BASE_RECIPE_VERSION = 5
# Replaced or abandoned base trees are removed once no build can still be using them.
STALE_TREE_AGE = 24 * 3600
# A base older than this is bootstrapped again: the mirror has moved on (security updates).
DEFAULT_MAX_AGE = 7 * 24 * 3600


def default_cache_dir() -> Path:
    explicit = os.environ.get("SHIPYARD_CACHE")
    if explicit:
        return Path(explicit)
    return paths.cache_dir()


def cache_key(inputs: dict[str, Any]) -> str:
    """A stable key for ``inputs``: same inputs, same key; any change, a new key."""
    canonical = json.dumps(
        {"recipe": BASE_RECIPE_VERSION, **inputs}, sort_keys=True, separators=(",", ":")
    )
    return hashlib.sha256(canonical.encode()).hexdigest()[:24]


@dataclass(frozen=True)
class Cache:
    root: Path
    max_age: float = DEFAULT_MAX_AGE

    def debs(self, release: str, arch: str) -> Path:
        path = self.root / "debs" / f"{release}-{arch}"
        path.mkdir(parents=True, exist_ok=True)
        return path

    def base_tree(self, key: str) -> Path:
        return self.root / "base" / key

    def base_meta(self, key: str) -> Path:
        return self.root / "base" / f"{key}.json"

    def fresh_base(self, key: str) -> Path | None:
        """The cached base tree for ``key`` if there is one young enough to use."""
        tree, meta = self.base_tree(key), self.base_meta(key)
        try:
            age = time.time() - meta.stat().st_mtime
        except FileNotFoundError:
            return None
        return tree if tree.is_dir() and age <= self.max_age else None

    def read_base_meta(self, key: str) -> dict[str, Any]:
        try:
            data: dict[str, Any] = json.loads(self.base_meta(key).read_text())
            return data
        except (OSError, ValueError):
            return {}

    def new_base_dir(self, key: str, build_id: str) -> Path:
        """Where a new base for ``key`` is bootstrapped before :meth:`install_base`."""
        return self.root / "base" / f".tmp-{key}-{build_id}"

    def install_base(self, key: str, tree: Path, meta: dict[str, Any]) -> Path:
        """Put a freshly bootstrapped ``tree`` in place as the base for ``key``."""
        target = self.base_tree(key)
        if target.exists():
            target.rename(target.with_name(f".old-{key}-{time.time_ns()}"))
        tree.rename(target)
        write_atomic(self.base_meta(key), json.dumps(meta) + "\n")
        return target

    def remove_stale_trees(self) -> None:
        import shutil

        for entry in (self.root / "base").glob(".*-*"):
            try:
                if time.time() - entry.stat().st_mtime > STALE_TREE_AGE:
                    shutil.rmtree(entry, ignore_errors=True)
            except FileNotFoundError:
                continue

    def prepare(self) -> None:
        try:
            for sub in ("debs", "base", "locks"):
                (self.root / sub).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CacheError(f"cannot create the build cache at {self.root}: {exc}") from exc

    @contextmanager
    def lock(self, name: str) -> Iterator[None]:
        """Hold the cache lock ``name`` (blocking) for the duration of the block."""
        self.prepare()
        with open(self.root / "locks" / f"{name}.lock", "a+") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def adopt_debs(self, downloaded: Path, release: str, arch: str) -> int:
        """Move new .debs from ``downloaded`` into the cache; returns how many were new."""
        target = self.debs(release, arch)
        incoming = self.root / "debs" / ".incoming"
        incoming.mkdir(parents=True, exist_ok=True)
        added = 0
        for deb in downloaded.glob("*.deb"):
            dest = target / deb.name
            if dest.exists():
                continue
            # Stage outside the cache directory: a concurrent bootstrap copies that whole
            # directory in, and must never see a file that is about to be renamed.
            tmp = incoming / f"{deb.name}.{os.getpid()}"
            try:
                os.replace(deb, tmp) if _same_fs(deb, target) else _copy(deb, tmp)
                os.replace(tmp, dest)
                added += 1
            except OSError as exc:
                tmp.unlink(missing_ok=True)
                raise CacheError(f"cannot store {deb.name} in the cache: {exc}") from exc
        return added


def _same_fs(a: Path, b: Path) -> bool:
    return a.stat().st_dev == b.stat().st_dev


def _copy(src: Path, dest: Path) -> None:
    import shutil

    shutil.copyfile(src, dest)
