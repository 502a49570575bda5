"""The build server: rebuild only the flavours whose packages the mirror has updated.

For each manifest in a folder, the newest catalogued build of its product is compared
with what the mirror offers now; a flavour with newer packages (or no build yet) is
rebuilt, added to the catalog, published to the manifest's targets, and old versions
are pruned.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shipyard.catalog import add, lifecycle, mirror, records
from shipyard.catalog.ec2 import ClientFactory
from shipyard.catalog.results import FlavourOutcome, PackageChange, WatchResult
from shipyard.catalog.store import Store
from shipyard.errors import CatalogError, ShipyardError
from shipyard.manifest.schema import Manifest

log = logging.getLogger("shipyard.catalog")

Builder = Callable[[Path, Path], Path]
Publisher = Callable[[Path, Manifest], list[str]]


@dataclass
class Decision:
    """Whether one flavour needs a rebuild, and why."""

    manifest: Path
    product_id: str
    last_version: str | None
    rebuild: bool
    reason: str
    changes: dict[str, tuple[str, str]] = field(default_factory=dict)

    def outcome(self) -> FlavourOutcome:
        """The decision as the start of its flavour's outcome in a watch pass."""
        return FlavourOutcome(
            manifest=str(self.manifest),
            product_id=self.product_id,
            last_version=self.last_version,
            rebuild=self.rebuild,
            reason=self.reason,
            changes={
                k: PackageChange(installed=a, offered=b) for k, (a, b) in self.changes.items()
            },
        )


def load_manifest(path: Path) -> Manifest:
    from shipyard.manifest.loader import load_manifest as load

    return load(path).manifest


def manifests(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise CatalogError(f"{folder}: no such folder of manifests")
    found = sorted([*folder.glob("*.yml"), *folder.glob("*.yaml")])
    if not found:
        raise CatalogError(f"{folder} holds no manifests (*.yml)")
    return found


def mirror_sources(manifest: Manifest, extra: list[mirror.Source]) -> list[mirror.Source]:
    """The apt sources a build of ``manifest`` installs from, then the extra ones."""
    release, comps = manifest.system.release, manifest.packages.components
    return [
        mirror.Source(manifest.packages.mirror, release, comps),
        mirror.Source(manifest.packages.mirror, f"{release}-updates", comps, required=False),
        mirror.Source(
            manifest.packages.security_mirror, f"{release}-security", comps, required=False
        ),
        *extra,
    ]


def decide(
    store: Store,
    path: Path,
    extra: list[mirror.Source],
    offered_cache: dict[tuple[mirror.Source, ...], dict[str, str]] | None = None,
) -> Decision:
    """Compare the flavour's last catalogued build with what its mirror offers now."""
    manifest = load_manifest(path)
    arch = manifest.system.architecture
    pid = records.product_id(manifest.system.release, arch, manifest.flavour)
    versions = records.load_product(store, pid)
    if not versions:
        return Decision(path, pid, None, True, "no build of this flavour yet")
    last = versions[0]
    sources = tuple(mirror_sources(manifest, extra))
    cache = offered_cache if offered_cache is not None else {}
    if sources not in cache:
        cache[sources] = mirror.available(sources, arch)
    changes = mirror.newer(last.packages, cache[sources])
    if changes:
        names = ", ".join(f"{n} {a} -> {b}" for n, (a, b) in list(changes.items())[:5])
        more = f" and {len(changes) - 5} more" if len(changes) > 5 else ""
        return Decision(path, pid, last.version, True, f"newer packages: {names}{more}", changes)
    return Decision(path, pid, last.version, False, "up to date")


def build_with_pipeline(manifest: Path, out: Path) -> Path:
    """Build one manifest with the build pipeline; returns the new build directory."""
    from shipyard.build.pipeline import build
    from shipyard.manifest.loader import load_manifest as load

    # The mirror has newer packages, so a cached base tree would bring back the old ones:
    # bootstrap afresh (downloaded .debs are still reused where their versions match).
    return build(load(manifest), out, use_cache=False)


def publish_to_targets(build_dir: Path, manifest: Manifest) -> list[str]:
    """Publish to the manifest's targets other than the catalog (which watch adds to itself)."""
    from shipyard.publish import publish_targets

    targets = [t for t in manifest.publish if t.to != "catalog"]
    publish_targets(build_dir, targets)
    return [t.to for t in targets]


def watch_once(
    store: Store,
    folder: Path,
    out: Path,
    *,
    extra: list[mirror.Source] | None = None,
    keep: int = 3,
    home: Path | None = None,
    builder: Builder = build_with_pipeline,
    publisher: Publisher = publish_to_targets,
    ec2: ClientFactory | None = None,
) -> WatchResult:
    """One pass over the folder: decide, rebuild what changed, catalogue, publish, prune."""
    cache: dict[tuple[mirror.Source, ...], dict[str, str]] = {}
    results = []
    for path in manifests(folder):
        decision = decide(store, path, extra or [], cache)
        log.warning("%s: %s", path.name, decision.reason)
        results.append(_rebuild(store, path, out, home, builder, publisher, decision))
    rebuilt = [r for r in results if r.rebuild and r.error is None]
    failed = sum(1 for r in results if r.error is not None)
    pruned = lifecycle.prune(store, keep, ec2=ec2, home=home) if rebuilt else None
    return WatchResult(flavours=results, rebuilt=len(rebuilt), failed=failed, prune=pruned)


def _rebuild(
    store: Store,
    path: Path,
    out: Path,
    home: Path | None,
    builder: Builder,
    publisher: Publisher,
    decision: Decision,
) -> FlavourOutcome:
    """Rebuild, catalogue and publish one flavour if the decision says so."""
    outcome = decision.outcome()
    if not decision.rebuild:
        return outcome
    changes: dict[str, Any] = {}
    try:
        build_dir = builder(path, out)
        changes["build_dir"] = str(build_dir)
        changes["catalog"] = add.add_build(store, build_dir, home=home)
        changes["published"] = tuple(publisher(build_dir, load_manifest(path)))
        if changes["published"]:
            # Publishing recorded new AMIs in the build: the catalog hands them out now.
            changes["catalog"] = add.add_build(store, build_dir, home=home)
    except ShipyardError as exc:
        changes["error"] = str(exc)
        log.error("%s: %s", path.name, exc)
    return outcome.model_copy(update=changes)
