"""Retention: keep the newest versions per product and channel, remove the rest.

A version whose AMI a live instance or a launch template still uses is kept, and so
is the newest version of every product and channel, whatever ``keep`` says.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

from shipyard.aws.ami import delete_image
from shipyard.catalog import index, records
from shipyard.catalog.ec2 import ClientFactory, Usage
from shipyard.catalog.results import DeletedAmi, KeptVersion, PruneResult, RemovedVersion
from shipyard.catalog.store import Store
from shipyard.errors import ShipyardError, UsageError

log = logging.getLogger("shipyard.catalog")


def _created(rec: records.VersionRecord) -> datetime:
    try:
        when = datetime.fromisoformat(rec.created.replace("Z", "+00:00"))
    except ValueError:
        return datetime.now(UTC)  # unknown age: treat as new, so never too old to keep
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def candidates(
    recs: list[records.VersionRecord], keep: int, older_than_days: float | None, now: datetime
) -> list[records.VersionRecord]:
    """The versions retention would remove, before checking what is in use."""
    groups: dict[tuple[str, str], list[records.VersionRecord]] = {}
    for rec in recs:
        groups.setdefault((rec.product_id, rec.channel), []).append(rec)
    cutoff = now - timedelta(days=older_than_days) if older_than_days is not None else None
    out = []
    for group in groups.values():
        group.sort(key=lambda r: records.version_key(r.version), reverse=True)
        for rec in group[max(keep, 1) :]:
            if cutoff is None or _created(rec) < cutoff:
                out.append(rec)
    return out


def prune(
    store: Store,
    keep: int,
    older_than_days: float | None = None,
    ec2: ClientFactory | None = None,
    home: Path | None = None,
    dry_run: bool = False,
) -> PruneResult:
    """Remove old versions, their AMIs and snapshots, and blobs nothing references."""
    if keep < 1:
        raise UsageError("must be at least 1: the newest version is never pruned", setting="keep")
    recs, _ = records.load_all(store)
    doomed = candidates(recs, keep, older_than_days, datetime.now(UTC))
    usage: dict[str, Usage | ShipyardError] = {}
    removed: list[RemovedVersion] = []
    kept: list[KeptVersion] = []
    for rec in doomed:
        reasons = []
        for region, ami in sorted(rec.amis.items()):
            if ec2 is None:
                reasons.append(f"no EC2 access to check whether {ami.id} in {region} is in use")
                continue
            if region not in usage:
                try:
                    usage[region] = Usage(ec2(region), region)
                except ShipyardError as exc:
                    usage[region] = exc
            found = usage[region]
            reason = str(found) if isinstance(found, ShipyardError) else found.why_kept(ami.id)
            if reason:
                reasons.append(reason)
        if reasons:
            kept.append(
                KeptVersion(product_id=rec.product_id, version=rec.version, reasons=reasons)
            )
            log.warning("keeping %s %s: %s", rec.product_id, rec.version, "; ".join(reasons))
            continue
        deleted: list[DeletedAmi] = []
        if not dry_run:
            for region, ami in sorted(rec.amis.items()):
                assert ec2 is not None
                known = [ami.snapshot_id] if ami.snapshot_id else []
                snaps = delete_image(ec2(region), ami.id, known_snapshots=known)
                deleted.append(DeletedAmi(region=region, ami_id=ami.id, snapshots=snaps))
            store.delete(records.record_key(rec.product_id, rec.version))
        removed.append(RemovedVersion(product_id=rec.product_id, version=rec.version, amis=deleted))
    blobs: list[str] = []
    if removed and not dry_run:
        index.regenerate(store, home)
        released = {d.path for rec in doomed for d in rec.downloads.values()}
        blobs = collect_garbage(store, released)
    return PruneResult(removed=removed, kept=kept, blobs_deleted=blobs, dry_run=dry_run)


def collect_garbage(store: Store, released: set[str]) -> list[str]:
    """Delete the blobs of removed versions that no remaining record references.

    Only blobs the removed versions named are considered, so a blob that a concurrent
    add has uploaded but not yet recorded is never taken.
    """
    recs, _ = records.load_all(store)
    wanted = {d.path for rec in recs for d in rec.downloads.values()}
    gone = sorted(released - wanted)
    for key in gone:
        store.delete(key)
    return gone
