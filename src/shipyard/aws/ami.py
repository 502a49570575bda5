"""AMIs: find by name and tags, register, copy, share, deprecate, delete."""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from shipyard.aws.session import call, error_code, translated
from shipyard.errors import AWSError

log = logging.getLogger("shipyard.aws.ami")

ROOT_DEVICE = "/dev/xvda"
BUILD_TAG = "shipyard:build-id"
MANIFEST_TAG = "shipyard:manifest-sha256"
SNAPSHOT_TAG = "shipyard:snapshot-id"
ARCHITECTURES = {"amd64": "x86_64", "arm64": "arm64"}


@dataclass(frozen=True)
class ImageSpec:
    """What RegisterImage is asked for."""

    name: str
    description: str
    architecture: str  # x86_64 | arm64
    boot_mode: str  # legacy-bios | uefi | uefi-preferred
    snapshot_id: str
    volume_size: int  # GiB
    enhanced_networking: bool = True


def tag_list(tags: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in tags.items()]


def tags_of(resource: Mapping[str, Any]) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in resource.get("Tags", [])}


def images_named(ec2: Any, name: str) -> list[dict[str, Any]]:
    """Our account's images called ``name`` (not deregistered ones)."""
    response = call(
        ec2, "describe_images", Owners=["self"], Filters=[{"Name": "name", "Values": [name]}]
    )
    return [i for i in response["Images"] if i.get("State") != "deregistered"]


def snapshots_of_build(ec2: Any, build_id: str) -> list[dict[str, Any]]:
    """Our account's snapshots tagged with ``build_id``."""
    paginator = ec2.get_paginator("describe_snapshots")
    found: list[dict[str, Any]] = []
    with translated("DescribeSnapshots"):
        for page in paginator.paginate(
            OwnerIds=["self"], Filters=[{"Name": f"tag:{BUILD_TAG}", "Values": [build_id]}]
        ):
            found.extend(page["Snapshots"])
    return found


def register(ec2: Any, spec: ImageSpec, tags: Mapping[str, str]) -> str:
    """RegisterImage for an EBS-backed HVM image of ``spec``; returns the image id."""
    params: dict[str, Any] = {
        "Name": spec.name,
        "Description": spec.description,
        "Architecture": spec.architecture,
        "RootDeviceName": ROOT_DEVICE,
        "BlockDeviceMappings": [
            {
                "DeviceName": ROOT_DEVICE,
                "Ebs": {
                    "SnapshotId": spec.snapshot_id,
                    "VolumeSize": spec.volume_size,
                    "VolumeType": "gp3",
                    "DeleteOnTermination": True,
                },
            }
        ],
        "VirtualizationType": "hvm",
        "BootMode": spec.boot_mode,
        "ImdsSupport": "v2.0",
        "TagSpecifications": [{"ResourceType": "image", "Tags": tag_list(tags)}],
    }
    if spec.enhanced_networking:
        params["EnaSupport"] = True
        params["SriovNetSupport"] = "simple"
    response = call(ec2, "register_image", **params)
    return str(response["ImageId"])


def tag(ec2: Any, resource_ids: Sequence[str], tags: Mapping[str, str]) -> None:
    call(ec2, "create_tags", Resources=list(resource_ids), Tags=tag_list(tags))


def describe(ec2: Any, image_id: str) -> dict[str, Any] | None:
    try:
        with translated("DescribeImages"):
            images = ec2.describe_images(ImageIds=[image_id])["Images"]
    except AWSError as exc:
        if error_code(exc.__cause__ or exc) in (
            "InvalidAMIID.NotFound",
            "InvalidAMIID.Unavailable",
        ):
            return None
        raise
    return dict(images[0]) if images else None


def wait_available(ec2: Any, image_id: str, *, timeout: float = 3600, poll: float = 5) -> None:
    """Wait until the image is ``available``; AWSError if it fails or times out."""
    deadline = time.monotonic() + timeout
    while True:
        image = describe(ec2, image_id)
        state = image.get("State", "pending") if image else "pending"
        if state == "available":
            return
        if state in ("failed", "error", "invalid", "deregistered"):
            reason = (image or {}).get("StateReason", {}).get("Message", "")
            raise AWSError(
                f"image {image_id} ended in state {state!r}" + (f": {reason}" if reason else "")
            )
        if time.monotonic() > deadline:
            raise AWSError(f"image {image_id} was not available after {timeout:g} s")
        time.sleep(poll)


def copy(
    ec2: Any,
    source_region: str,
    image_id: str,
    *,
    name: str,
    description: str,
    tags: Mapping[str, str],
    token: str,
) -> str:
    """CopyImage into ``ec2``'s region; ``token`` makes a repeated request idempotent."""
    response = call(
        ec2,
        "copy_image",
        SourceRegion=source_region,
        SourceImageId=image_id,
        Name=name,
        Description=description,
        ClientToken=token,
        TagSpecifications=[{"ResourceType": "image", "Tags": tag_list(tags)}],
    )
    return str(response["ImageId"])


def share(ec2: Any, image_id: str, *, public: bool, accounts: Sequence[str]) -> None:
    """Add launch permissions: everyone, or the named accounts."""
    grants: list[dict[str, str]] = [{"Group": "all"}] if public else []
    grants += [{"UserId": a} for a in accounts]
    if grants:
        call(
            ec2,
            "modify_image_attribute",
            ImageId=image_id,
            LaunchPermission={"Add": grants},
        )


def deprecate(ec2: Any, image_id: str, days: int) -> str:
    """Set the image's deprecation time ``days`` from now; returns it (ISO 8601, UTC)."""
    when = (dt.datetime.now(dt.UTC) + dt.timedelta(days=days)).replace(microsecond=0)
    call(ec2, "enable_image_deprecation", ImageId=image_id, DeprecateAt=when)
    return when.isoformat().replace("+00:00", "Z")


def image_snapshots(image: Mapping[str, Any]) -> list[str]:
    """Snapshots behind an image: its block device mappings and the one Shipyard tagged."""
    found = [
        m["Ebs"]["SnapshotId"]
        for m in image.get("BlockDeviceMappings", [])
        if m.get("Ebs", {}).get("SnapshotId")
    ]
    tagged = tags_of(image).get(SNAPSHOT_TAG)
    return [*found, tagged] if tagged and tagged not in found else found


def delete_snapshot(ec2: Any, snapshot_id: str) -> bool:
    """DeleteSnapshot, treating "already gone" as done; False when it was gone."""
    try:
        call(ec2, "delete_snapshot", SnapshotId=snapshot_id)
    except AWSError as exc:
        if error_code(exc.__cause__ or exc) != "InvalidSnapshot.NotFound":
            raise
        return False
    return True


def delete_image(
    ec2: Any,
    image_id: str,
    *,
    with_snapshots: bool = True,
    known_snapshots: Sequence[str] = (),
) -> list[str]:
    """Deregister an image and (by default) delete the snapshots behind it.

    Its snapshots are those its block device mappings and Shipyard's snapshot tag name,
    and ``known_snapshots``, which still go when the image was deregistered elsewhere.
    Returns the snapshots deleted.
    """
    image = describe(ec2, image_id)
    if image is not None and image.get("State") != "deregistered":
        call(ec2, "deregister_image", ImageId=image_id)
    if not with_snapshots:
        return []
    snapshots = dict.fromkeys([*(image_snapshots(image) if image else []), *known_snapshots])
    return [snap for snap in snapshots if snap and delete_snapshot(ec2, snap)]
