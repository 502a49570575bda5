"""EC2 bundles in S3: bucket checks, parallel resumable part uploads, downloads, removal,
and RegisterImage from a manifest's location."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

from shipyard.aws.ami import tag_list
from shipyard.aws.bundle_format import Part
from shipyard.aws.session import call, error_code, translated
from shipyard.errors import AWSError, PublishError

log = logging.getLogger("shipyard.aws.bundle_upload")

# The canned ACL that lets EC2 read a bundle: without it RegisterImage cannot fetch it.
EXEC_READ = "aws-exec-read"
RESUME_SUFFIX = ".shipyard-resume.json"


@dataclass(frozen=True)
class Location:
    """Where a bundle lives: ``bucket`` and a key prefix ending in ``/`` (or empty)."""

    bucket: str
    prefix: str

    def key(self, filename: str) -> str:
        return f"{self.prefix}{filename}"

    def image_location(self, manifest_name: str) -> str:
        """RegisterImage's ImageLocation: ``bucket/prefix/name.manifest.xml``."""
        return f"{self.bucket}/{self.key(manifest_name)}"


@dataclass
class UploadStats:
    parts_sent: int = 0
    parts_skipped: int = 0
    bytes_sent: int = 0


def check_bucket(s3: Any, bucket: str, region: str) -> None:
    """PublishError unless ``bucket`` exists in ``region`` and can take the exec-read grant."""
    try:
        with translated(f"HeadBucket {bucket}"):
            s3.head_bucket(Bucket=bucket)
    except AWSError as exc:
        if error_code(exc.__cause__ or exc) in ("404", "NoSuchBucket", "NotFound"):
            raise PublishError(
                f"S3 bucket {bucket!r} does not exist",
                hint=f"create it in {region} with ACLs enabled (object ownership ObjectWriter)",
            ) from None
        raise
    located = call(s3, "get_bucket_location", Bucket=bucket).get("LocationConstraint")
    bucket_region = {None: "us-east-1", "": "us-east-1", "EU": "eu-west-1"}.get(located, located)
    if bucket_region != region:
        raise PublishError(
            f"S3 bucket {bucket!r} is in {bucket_region}, but the image is registered in "
            f"{region}: EC2 reads bundles only from its own region"
        )
    try:
        with translated(f"GetBucketOwnershipControls {bucket}"):
            controls = s3.get_bucket_ownership_controls(Bucket=bucket)
    except AWSError as exc:
        if error_code(exc.__cause__ or exc) == "OwnershipControlsNotFoundError":
            return  # a bucket from before ownership controls: ACLs are on
        raise
    rules = controls.get("OwnershipControls", {}).get("Rules", [])
    if any(r.get("ObjectOwnership") == "BucketOwnerEnforced" for r in rules):
        raise PublishError(
            f"S3 bucket {bucket!r} has ACLs disabled (BucketOwnerEnforced, the default for "
            f"new buckets), so EC2 cannot be granted {EXEC_READ} to read the bundle",
            hint="set the bucket's object ownership to ObjectWriter or BucketOwnerPreferred",
        )


def existing(s3: Any, location: Location, name: str) -> dict[str, str]:
    """Keys under the bundle's prefix that start with ``name``, with their ETags."""
    found: dict[str, str] = {}
    paginator = s3.get_paginator("list_objects_v2")
    with translated("ListObjectsV2"):
        for page in paginator.paginate(Bucket=location.bucket, Prefix=location.key(name)):
            for obj in page.get("Contents", []):
                found[obj["Key"]] = str(obj.get("ETag", "")).strip('"')
    return found


def read_resume(s3: Any, location: Location, name: str) -> dict[str, str] | None:
    """What an earlier, unfinished upload left to resume from, if anything."""
    try:
        with translated("GetObject"):
            body = s3.get_object(Bucket=location.bucket, Key=location.key(name + RESUME_SUFFIX))
            data = body["Body"].read(64 * 1024)
    except AWSError as exc:
        if error_code(exc.__cause__ or exc) in ("NoSuchKey", "404"):
            return None
        raise
    try:
        found = json.loads(data)
    except ValueError:
        return None
    if not isinstance(found, dict) or not all(isinstance(v, str) for v in found.values()):
        return None
    return found


def write_resume(s3: Any, location: Location, name: str, fields: Mapping[str, str]) -> str:
    """Store what a rerun needs to make the same bytes again (the key, sealed for the user)."""
    key = location.key(name + RESUME_SUFFIX)
    call(s3, "put_object", Bucket=location.bucket, Key=key, Body=json.dumps(dict(fields)).encode())
    return key


def _put(s3: Any, bucket: str, key: str, data: bytes) -> None:
    md5 = base64.b64encode(hashlib.md5(data).digest()).decode()
    call(
        s3,
        "put_object",
        f"PutObject {key}",
        Bucket=bucket,
        Key=key,
        Body=data,
        ACL=EXEC_READ,
        ContentMD5=md5,
    )


def upload_parts(
    s3: Any,
    location: Location,
    parts: Iterable[Part],
    *,
    already: Mapping[str, str],
    concurrency: int,
    on_put: Callable[[str], None],
    progress: Callable[[int], None] = lambda n: None,
) -> UploadStats:
    """Upload ``parts`` ``concurrency`` at a time, skipping those ``already`` in S3 with the
    same MD5 (their ETag). ``on_put(key)`` is called before each upload starts, so the
    caller can register its removal the moment it may exist."""
    stats = UploadStats()
    pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="s3-part")
    running: set[Future[None]] = set()
    try:
        for part in parts:
            key = location.key(part.filename)
            if already.get(key) == hashlib.md5(part.data).hexdigest():
                stats.parts_skipped += 1
                progress(len(part.data))
                continue
            while len(running) >= concurrency:
                _, running = _settle(running)
            on_put(key)
            running.add(pool.submit(_put, s3, location.bucket, key, part.data))
            stats.parts_sent += 1
            stats.bytes_sent += len(part.data)
            progress(len(part.data))
        while running:
            _, running = _settle(running)
    except BaseException:
        # Let uploads in flight end before anyone deletes their objects.
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown()
    return stats


def _settle(running: set[Future[None]]) -> tuple[set[Future[None]], set[Future[None]]]:
    done, pending = wait(running, return_when=FIRST_COMPLETED)
    for future in done:
        future.result()  # raises the upload's error
    return done, set(pending)


def put_manifest(s3: Any, location: Location, filename: str, xml: bytes) -> str:
    key = location.key(filename)
    _put(s3, location.bucket, key, xml)
    return key


def delete_object(s3: Any, bucket: str, key: str) -> None:
    """DeleteObject; a key that is already gone is fine."""
    call(s3, "delete_object", f"DeleteObject {key}", Bucket=bucket, Key=key)


def get_object(s3: Any, bucket: str, key: str, limit: int) -> bytes:
    """An object's bytes; PublishError if it is missing or larger than ``limit``."""
    try:
        with translated(f"GetObject s3://{bucket}/{key}"):
            response = s3.get_object(Bucket=bucket, Key=key)
            if int(response.get("ContentLength") or 0) > limit:
                raise PublishError(f"s3://{bucket}/{key} is larger than expected")
            return bytes(response["Body"].read(limit + 1)[: limit + 1])
    except AWSError as exc:
        if error_code(exc.__cause__ or exc) in ("NoSuchKey", "404", "NoSuchBucket"):
            raise PublishError(f"s3://{bucket}/{key} does not exist") from None
        raise


@dataclass(frozen=True)
class BundleImageSpec:
    """RegisterImage for an instance-store HVM image."""

    name: str
    description: str
    architecture: str
    image_location: str
    enhanced_networking: bool = True


def register(ec2: Any, spec: BundleImageSpec, tags: Mapping[str, str]) -> str:
    """RegisterImage from ``spec.image_location``; returns the image id."""
    params: dict[str, Any] = {
        "Name": spec.name,
        "Description": spec.description,
        "ImageLocation": spec.image_location,
        "Architecture": spec.architecture,
        "VirtualizationType": "hvm",
        "RootDeviceName": "/dev/sda1",
        # Instance-store roots boot only with BIOS.
        "BootMode": "legacy-bios",
        "TagSpecifications": [{"ResourceType": "image", "Tags": tag_list(tags)}],
    }
    if spec.enhanced_networking:
        params["EnaSupport"] = True
        params["SriovNetSupport"] = "simple"
    response = call(ec2, "register_image", **params)
    return str(response["ImageId"])
