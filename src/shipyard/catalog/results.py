"""What the catalog's operations (add, prune, pull, watch) return; ``--json`` prints them."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from shipyard.catalog.records import Channel


class Result(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class AddResult(Result):
    """A build's version in a store after ``catalog add``."""

    store: str
    product_id: str
    version: str
    channel: Channel
    build_id: str
    changed: bool  # false when the store already held the build exactly so


class DeletedAmi(Result):
    region: str
    ami_id: str
    snapshots: tuple[str, ...]  # deleted with it


class RemovedVersion(Result):
    product_id: str
    version: str
    amis: tuple[DeletedAmi, ...] = ()  # empty on a dry run


class KeptVersion(Result):
    product_id: str
    version: str
    reasons: tuple[str, ...]


class PruneResult(Result):
    removed: tuple[RemovedVersion, ...]
    kept: tuple[KeptVersion, ...]
    blobs_deleted: tuple[str, ...]
    dry_run: bool


class PulledFile(Result):
    path: str
    size: int
    sha256: str
    resumed_from: int | None  # the byte a partial download resumed at


class PullResult(Result):
    product_id: str
    version: str
    files: tuple[PulledFile, ...]
    provenance: str | None = None  # the signed provenance checked, when the catalog has one


class PackageChange(Result):
    installed: str
    offered: str


class FlavourOutcome(Result):
    """One manifest in a ``catalog watch`` pass: the decision and what came of it."""

    manifest: str
    product_id: str
    last_version: str | None
    rebuild: bool
    reason: str
    changes: dict[str, PackageChange] = {}
    build_dir: str | None = None
    catalog: AddResult | None = None
    published: tuple[str, ...] = ()  # publish targets, the catalog aside
    error: str | None = None


class WatchResult(Result):
    flavours: tuple[FlavourOutcome, ...]
    rebuilt: int
    failed: int
    prune: PruneResult | None
