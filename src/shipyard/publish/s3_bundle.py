"""The ec2 target with ``backing: s3``: an instance-store AMI from a bundle in S3.

Only older instance families (C1, C3, D2, I2, M1, M2, M3, R3, X1) boot instance-store
roots, and only with BIOS; images are at most 10 GiB; the bucket must have ACLs on so
EC2 can be granted ``aws-exec-read``. An upload interrupted with ``keep_on_failure``
resumes: the bundle's key is kept sealed for the user beside the parts, so a rerun makes
the same bytes and skips the parts S3 already holds.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from shipyard import record as build_record
from shipyard.aws import ami, bundle_upload
from shipyard.aws.bundle_format import (
    MAX_IMAGE_SIZE,
    BundleStats,
    SessionKey,
    bundle_parts,
    ec2_certificate,
    load_certificate,
    load_private_key,
    rsa_public_key,
)
from shipyard.aws.bundle_manifest import for_bundle
from shipyard.aws.session import Hook, client, make_session
from shipyard.cleanup import Cleanup, cleanup_scope, signals_as_interrupts
from shipyard.errors import PublishError
from shipyard.manifest.schema import Ec2Target
from shipyard.publish.ec2_plan import make_plan, settings_for
from shipyard.record_sections import RegionImage, S3PublishEntry

log = logging.getLogger("shipyard.publish.s3_bundle")

DEFAULT_CONCURRENCY = 4  # 10 MiB parts: 4 in flight keep a link busy without much memory
LIMITS = (
    "instance-store AMIs boot only on older instance families (C1, C3, D2, I2, M1, M2, M3, "
    "R3, X1), with BIOS, from images of at most 10 GiB"
)


@dataclass(frozen=True)
class UserCredentials:
    """The user's certificate, private key and account id for signing the bundle."""

    account: str
    cert: x509.Certificate
    key: rsa.RSAPrivateKey = field(repr=False)

    @classmethod
    def load(cls, cert: str | None, key: str | None, account: str | None) -> UserCredentials:
        """From file paths and an account id; bootstrap-vz's variables fill what is missing."""
        cert = cert or os.environ.get("AWS_CERTIFICATE")
        key = key or os.environ.get("AWS_PRIVATE_KEY")
        account = account or os.environ.get("AWS_USER_ID")
        given = {"certificate": cert, "private key": key, "account id": account}
        missing = [what for what, value in given.items() if not value]
        if missing:
            raise PublishError(
                f"an S3-backed AMI needs the user's X.509 {', '.join(missing)}",
                hint="give --user-cert, --user-key and --account-id "
                "(or credentials certificate, private-key and user-id in the manifest)",
            )
        assert cert and key and account
        account = account.replace("-", "")
        if not re.fullmatch(r"\d{12}", account):
            raise PublishError(f"{account!r} is not an AWS account id (12 digits)")
        certificate = load_certificate(Path(cert))
        private_key = load_private_key(Path(key))
        public = rsa_public_key(certificate, cert).public_numbers()
        if private_key.public_key().public_numbers() != public:
            raise PublishError(f"{key}: this private key is not the key of certificate {cert}")
        return cls(account, certificate, private_key)

    @classmethod
    def from_target(cls, target: Ec2Target) -> UserCredentials:
        creds = target.credentials
        return cls.load(
            target.user_cert or (creds.certificate if creds else None),
            target.user_key or (creds.private_key if creds else None),
            target.account_id or (creds.user_id if creds else None),
        )


def bundle_name(name: str) -> str:
    """A bundle name safe as an S3 key and in the manifest's XML."""
    return re.sub(r"[^A-Za-z0-9._-]", "-", name).strip("-.")[:128] or "image"


def _check_build(record: build_record.BuildRecord, size: int) -> None:
    if size > MAX_IMAGE_SIZE:
        raise PublishError(
            f"build {record.id}'s disk is {size / 2**30:.1f} GiB: {LIMITS}",
            hint="publish it with EBS backing instead",
        )
    if "bios" not in record.boot_modes:
        raise PublishError(
            f"build {record.id} does not boot with BIOS: {LIMITS}",
            hint="add bios to the manifest's volume.boot, or publish with EBS backing",
        )
    if record.architecture != "amd64":
        raise PublishError(f"build {record.id} is {record.architecture}: {LIMITS} (x86_64)")


def publish(
    build_dir: Path,
    target: Ec2Target,
    *,
    progress: bool = True,
    concurrency: int = DEFAULT_CONCURRENCY,
    hooks: Sequence[Hook] = (),
) -> S3PublishEntry:
    """Bundle ``build_dir`` into S3 and register it as an instance-store AMI."""
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
    _check_build(record, artifact.virtual_size or artifact.size)
    assert target.bucket
    user = UserCredentials.from_target(target)
    plan = make_plan(record, target.model_copy(update={"boot_mode": "legacy-bios"}))
    settings = settings_for(target)
    session = make_session(settings, hooks)
    region = str(session.region_name)
    ec2 = client(session, "ec2", settings)
    s3 = client(session, "s3", settings, pool=concurrency + 4)
    ec2_key = rsa_public_key(ec2_certificate(region), "EC2's certificate")
    name = bundle_name(plan.name)
    location = bundle_upload.Location(target.bucket, f"{target.prefix}/" if target.prefix else "")
    log.warning("S3-backed AMI: %s", LIMITS)

    with cleanup_scope(keep_on_failure=target.keep_on_failure) as cleanup, signals_as_interrupts():
        bundle_upload.check_bucket(s3, target.bucket, region)
        ours = _existing_image(ec2, plan.name, record.id, force=target.force)
        if ours is not None:
            image_id, image_location = ours
            log.info("reusing %s, already registered from this build", image_id)
            stats, bundle = bundle_upload.UploadStats(), BundleStats()
            manifest_key = image_location.partition("/")[2]
        else:
            key = _session_key(s3, location, name, user, artifact.sha256, cleanup)
            bundle = BundleStats()
            already = bundle_upload.existing(s3, location, name)

            def undo_later(obj: str) -> None:
                cleanup.register(
                    f"s3://{location.bucket}/{obj}",
                    lambda: bundle_upload.delete_object(s3, location.bucket, obj),
                )

            log.info("bundling %s into s3://%s/%s", disk.name, location.bucket, location.prefix)
            stats = bundle_upload.upload_parts(
                s3,
                location,
                bundle_parts(disk, name, key, bundle),
                already=already,
                concurrency=concurrency,
                on_put=undo_later,
            )
            log.info(
                "%d parts: %d sent, %d already in S3",
                len(bundle.parts),
                stats.parts_sent,
                stats.parts_skipped,
            )
            manifest = for_bundle(
                name, user.account, plan.architecture, bundle, key, ec2_key, user.key
            )
            manifest_key = location.key(f"{name}.manifest.xml")
            undo_later(manifest_key)
            bundle_upload.put_manifest(s3, location, f"{name}.manifest.xml", manifest.xml)
            image_location = f"{location.bucket}/{manifest_key}"
            image_id = _register(ec2, plan, image_location, target, cleanup)

    result = S3PublishEntry(
        time=dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        name=plan.name,
        region=region,
        image_id=image_id,
        images={region: RegionImage(image_id=image_id)},
        image_location=image_location,
        bucket=target.bucket,
        manifest_key=manifest_key,
        parts=len(bundle.parts),
        parts_sent=stats.parts_sent,
        parts_skipped=stats.parts_skipped,
        bytes_sent=stats.bytes_sent,
        bundled_size=bundle.bundled_size,
        architecture=plan.architecture,
        tags=plan.tags,
        reused=ours is not None,
        endpoint_url=settings.endpoint_url,
    )
    build_record.append(build_dir, result)
    return result


def _existing_image(ec2: Any, name: str, build_id: str, *, force: bool) -> tuple[str, str] | None:
    """(image id, location) of this build's image of ``name``; others refused or removed."""
    found = None
    for image in ami.images_named(ec2, name):
        if ami.tags_of(image).get(ami.BUILD_TAG) == build_id:
            found = found or (str(image["ImageId"]), str(image.get("ImageLocation", "")))
        elif not force:
            raise PublishError(
                f"an AMI named {name!r} already exists ({image['ImageId']}) "
                "and was not made from this build",
                hint="pass --force to deregister it, or pick --name",
            )
        else:
            log.warning("deregistering %s (%s): --force", image["ImageId"], name)
            ami.delete_image(ec2, image["ImageId"], with_snapshots=False)
    return found


def _session_key(
    s3: Any,
    location: bundle_upload.Location,
    name: str,
    user: UserCredentials,
    disk_sha256: str,
    cleanup: Cleanup,
) -> SessionKey:
    """The key of an unfinished earlier upload of the same disk, or a new one (recorded)."""
    resume = bundle_upload.read_resume(s3, location, name)
    if resume and resume.get("disk_sha256") == disk_sha256:
        try:
            key = SessionKey.decrypt_with(user.key, resume.get("key", ""), resume.get("iv", ""))
        except (PublishError, ValueError):
            key = None
        if key is not None:
            log.info("resuming the upload of %s", name)
            return key
    key = SessionKey.random()
    sealed_key, sealed_iv = key.encrypt_for(rsa_public_key(user.cert, "the user certificate"))
    fields = {"disk_sha256": disk_sha256, "key": sealed_key, "iv": sealed_iv}
    obj = location.key(name + bundle_upload.RESUME_SUFFIX)
    cleanup.register(
        f"s3://{location.bucket}/{obj}",
        lambda: bundle_upload.delete_object(s3, location.bucket, obj),
    )
    bundle_upload.write_resume(s3, location, name, fields)
    return key


def _register(ec2: Any, plan: Any, image_location: str, target: Ec2Target, cleanup: Cleanup) -> str:
    spec = bundle_upload.BundleImageSpec(
        name=plan.name,
        description=plan.description,
        architecture=plan.architecture,
        image_location=image_location,
        enhanced_networking=target.enhanced_networking,
    )
    image_id = bundle_upload.register(ec2, spec, plan.tags)
    cleanup.register(
        f"image {image_id}", lambda: ami.delete_image(ec2, image_id, with_snapshots=False)
    )
    # Tag again: endpoints that ignore TagSpecifications must still know it is ours.
    ami.tag(ec2, [image_id], plan.tags)
    ami.wait_available(ec2, image_id)
    return image_id
