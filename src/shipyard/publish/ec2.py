"""The ec2 target: upload a build into an EBS snapshot, register it, copy and share it.

Safe to rerun: finished work is found by name and build-id tag and reused; a
snapshot left unfinished by a crash is deleted. Everything this run creates has its
undo registered the moment it exists, and is removed on failure or interruption
unless ``keep_on_failure``.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shipyard import record as build_record
from shipyard.aws import ami, ebs
from shipyard.aws.session import Hook, client, make_session
from shipyard.cleanup import Cleanup, cleanup_scope, signals_as_interrupts
from shipyard.errors import PublishError
from shipyard.manifest.schema import Ec2Target
from shipyard.publish.ec2_plan import Ec2Plan, make_plan, settings_for
from shipyard.publish.progress import transfer_bar
from shipyard.record_sections import EbsPublishEntry, RegionImage, S3PublishEntry, UploadFigures

log = logging.getLogger("shipyard.publish.ec2")

DISK_TAG = "shipyard:disk-sha256"
# Set once CompleteSnapshot succeeded: only such snapshots are reused by a rerun.
UPLOADED_TAG = "shipyard:upload-checksum"


@dataclass(frozen=True)
class _Job:
    """One publish: what to make and how, shared by its steps."""

    build_id: str
    disk: Path
    size: int
    plan: Ec2Plan
    tags: dict[str, str]  # for the snapshot and the AMI
    target: Ec2Target
    cleanup: Cleanup
    progress: bool
    concurrency: int


@dataclass
class _Home:
    image_id: str
    snapshot_id: str
    reused: bool
    upload: ebs.UploadStats | None


def publish(
    build_dir: Path,
    target: Ec2Target,
    *,
    progress: bool = True,
    concurrency: int = ebs.DEFAULT_CONCURRENCY,
    hooks: Sequence[Hook] = (),
) -> EbsPublishEntry | S3PublishEntry:
    """Publish ``build_dir`` as an AMI per ``target``; returns what went into build.json.

    ``hooks`` are botocore event handlers for every client this publish uses.
    """
    if target.backing == "s3":
        from shipyard.publish import s3_bundle

        return s3_bundle.publish(
            build_dir, target, progress=progress, concurrency=min(concurrency, 8), hooks=hooks
        )
    build_dir = build_record.find_build(build_dir)
    record = build_record.load(build_dir)
    if record.status != "complete":
        raise PublishError(
            f"build {record.id} is {record.status}, not complete: nothing to publish"
        )
    artifact = record.artifact("raw")
    disk = build_dir / artifact.path
    if not disk.is_file():
        raise PublishError(f"{disk}: the build's raw disk image is missing")
    plan = make_plan(record, target)
    settings = settings_for(target)
    session = make_session(settings, hooks)
    home = str(session.region_name)
    regions = [r for r in dict.fromkeys(target.copy_to) if r != home]
    ec2 = {r: client(session, "ec2", settings, region=r) for r in [home, *regions]}

    with cleanup_scope(keep_on_failure=target.keep_on_failure) as cleanup, signals_as_interrupts():
        for region, c in ec2.items():
            _check_name(c, region, plan, record.id, force=target.force)
        job = _Job(
            build_id=record.id,
            disk=disk,
            size=artifact.virtual_size or artifact.size,
            plan=plan,
            tags={**plan.tags, DISK_TAG: artifact.sha256},
            target=target,
            cleanup=cleanup,
            progress=progress,
            concurrency=concurrency,
        )
        upload_clients = (
            client(session, "ebs", settings),
            ebs.upload_client(session, settings, concurrency=concurrency),
        )
        main = _home_image(job, ec2[home], home, upload_clients)
        images = {home: RegionImage(image_id=main.image_id, snapshot_id=main.snapshot_id)}
        images.update(_copies(job, ec2, home, regions, main.image_id))
        deprecate_at = _finish(ec2, images, target)

    entry = EbsPublishEntry(
        time=dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        name=plan.name,
        region=home,
        image_id=main.image_id,
        snapshot_id=main.snapshot_id,
        architecture=plan.architecture,
        boot_mode=plan.boot_mode,
        images=images,
        tags=plan.tags,
        public=target.public,
        shared_with=target.share_with,
        deprecate_at=deprecate_at,
        reused=main.reused,
        upload=_upload_figures(main.upload),
        endpoint_url=settings.endpoint_url,
    )
    build_record.append(build_dir, entry)
    return entry


def _check_name(ec2: Any, region: str, plan: Ec2Plan, build_id: str, *, force: bool) -> None:
    """Refuse, before any upload, an existing AMI of the same name that is not ours."""
    for image in ami.images_named(ec2, plan.name):
        if ami.tags_of(image).get(ami.BUILD_TAG) != build_id and not force:
            raise PublishError(
                f"an AMI named {plan.name!r} already exists in {region} ({image['ImageId']}) "
                "and was not made from this build",
                hint="pass --force to deregister it and delete its snapshots, or pick --name",
            )


def _take_over_name(ec2: Any, region: str, plan: Ec2Plan, build_id: str) -> dict[str, Any] | None:
    """Our image of this name if there is one; foreign ones (allowed by --force) go."""
    ours = None
    for image in ami.images_named(ec2, plan.name):
        if ami.tags_of(image).get(ami.BUILD_TAG) == build_id:
            ours = ours or image
        else:
            log.warning("deregistering %s (%s) in %s: --force", image["ImageId"], plan.name, region)
            ami.delete_image(ec2, image["ImageId"])
    return ours


def _home_image(job: _Job, ec2: Any, region: str, ebs_clients: tuple[Any, Any]) -> _Home:
    """The AMI in the upload region: ours from an earlier run, or uploaded and registered."""
    plan = job.plan
    existing = _take_over_name(ec2, region, plan, job.build_id)
    if existing is not None:
        image_id = existing["ImageId"]
        log.info("reusing %s, already registered from this build", image_id)
        ami.wait_available(ec2, image_id)
        snapshot_id = ami.tags_of(existing).get(ami.SNAPSHOT_TAG) or next(
            iter(ami.image_snapshots(existing)), ""
        )
        return _Home(image_id, snapshot_id, True, None)

    snapshot_id, stats = _snapshot(job, ec2, ebs_clients)
    image_tags = {**job.tags, ami.SNAPSHOT_TAG: snapshot_id}
    spec = ami.ImageSpec(
        name=plan.name,
        description=plan.description,
        architecture=plan.architecture,
        boot_mode=plan.boot_mode,
        snapshot_id=snapshot_id,
        volume_size=ebs.volume_size_gib(job.size),
        enhanced_networking=job.target.enhanced_networking,
    )
    image_id = ami.register(ec2, spec, image_tags)
    job.cleanup.register(f"image {image_id}", lambda: ami.delete_image(ec2, image_id))
    # Tag again: endpoints that ignore TagSpecifications must still know it is ours.
    ami.tag(ec2, [image_id], image_tags)
    ami.wait_available(ec2, image_id)
    return _Home(image_id, snapshot_id, False, stats)


def _snapshot(
    job: _Job, ec2: Any, ebs_clients: tuple[Any, Any]
) -> tuple[str, ebs.UploadStats | None]:
    """A completed snapshot of the disk: one left by an earlier run, or a new upload."""
    tags = job.tags
    for snap in ami.snapshots_of_build(ec2, job.build_id):
        snap_tags = ami.tags_of(snap)
        finished = snap["State"] == "completed" and UPLOADED_TAG in snap_tags
        if finished and snap_tags.get(DISK_TAG) == tags[DISK_TAG]:
            log.info("reusing snapshot %s, already uploaded from this build", snap["SnapshotId"])
            return str(snap["SnapshotId"]), None
        # Unfinished (a crashed or killed run) or of other content: it would only linger.
        log.info("deleting stray snapshot %s (%s)", snap["SnapshotId"], snap["State"])
        ami.delete_snapshot(ec2, snap["SnapshotId"])

    control, data = ebs_clients
    snapshot_id = ebs.start_snapshot(control, job.size, description=job.plan.description, tags=tags)
    job.cleanup.register(f"snapshot {snapshot_id}", lambda: ami.delete_snapshot(ec2, snapshot_id))
    log.info("uploading %s into %s", job.disk.name, snapshot_id)
    with transfer_bar(f"upload {snapshot_id}", enabled=job.progress) as bar:
        stats = ebs.put_blocks(
            data,
            snapshot_id,
            job.disk,
            concurrency=job.concurrency,
            progress=bar.advance,
            on_start=bar.start,
        )
    ebs.complete_snapshot(control, snapshot_id, stats)
    ebs.wait_completed(ec2, snapshot_id)
    ami.tag(ec2, [snapshot_id], {UPLOADED_TAG: stats.checksum})
    log.info(
        "sent %d of %d blocks (%.1f MiB) in %.1f s, %d retries",
        stats.blocks_sent,
        stats.blocks_total,
        stats.bytes_sent / 2**20,
        stats.seconds,
        stats.retries,
    )
    return snapshot_id, stats


def _copies(
    job: _Job, ec2: dict[str, Any], home: str, regions: list[str], image_id: str
) -> dict[str, RegionImage]:
    """Copy the image to ``regions`` in parallel, reusing copies already there."""
    if not regions:
        return {}
    plan, build_id = job.plan, job.build_id

    def one(region: str) -> RegionImage:
        c = ec2[region]
        existing = _take_over_name(c, region, plan, build_id)
        if existing is not None:
            copy_id = str(existing["ImageId"])
            log.info("%s already holds %s (%s)", region, plan.name, copy_id)
        else:
            # Cleanup waits for this block, so the copy's undo is in before it runs.
            with job.cleanup.creating(f"a copy in {region}"):
                copy_id = ami.copy(
                    c,
                    home,
                    image_id,
                    name=plan.name,
                    description=plan.description,
                    tags=plan.tags,
                    token=f"{build_id}-{image_id}-{region}"[:64],
                )
                job.cleanup.register(
                    f"image {copy_id} in {region}", lambda: ami.delete_image(c, copy_id)
                )
            ami.tag(c, [copy_id], plan.tags)
        ami.wait_available(c, copy_id)
        image = ami.describe(c, copy_id) or {}
        return RegionImage(
            image_id=copy_id, snapshot_id=next(iter(ami.image_snapshots(image)), None)
        )

    pool = ThreadPoolExecutor(max_workers=len(regions), thread_name_prefix="copy")
    try:
        futures = {r: pool.submit(one, r) for r in regions}
        results = {r: f.result() for r, f in futures.items()}
    except BaseException:
        # Do not wait for copies still pending: the caller's cleanup waits only for the
        # copy requests in flight, then deregisters them, which ends their workers' waits.
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()
    return results


def _finish(ec2: dict[str, Any], images: dict[str, RegionImage], target: Ec2Target) -> str | None:
    """Launch permissions and deprecation on every copy; returns the deprecation time."""
    deprecate_at = None
    for region, image in images.items():
        ami.share(ec2[region], image.image_id, public=target.public, accounts=target.share_with)
        if target.deprecate_in:
            deprecate_at = ami.deprecate(ec2[region], image.image_id, target.deprecate_in)
    return deprecate_at


def _upload_figures(stats: ebs.UploadStats | None) -> UploadFigures | None:
    if stats is None:
        return None
    return UploadFigures(
        blocks_total=stats.blocks_total,
        blocks_sent=stats.blocks_sent,
        bytes_sent=stats.bytes_sent,
        seconds=round(stats.seconds, 2),
        retries=stats.retries,
        checksum=stats.checksum,
    )
