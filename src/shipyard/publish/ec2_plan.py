"""What an ec2 publish will ask for, decided from the build record and the target."""

from __future__ import annotations

import re
from dataclasses import dataclass

from shipyard.aws.ami import ARCHITECTURES, BUILD_TAG, MANIFEST_TAG
from shipyard.aws.session import AwsSettings
from shipyard.errors import PublishError
from shipyard.manifest.schema import Ec2Target
from shipyard.record import BuildRecord

_AMI_NAME_BAD = re.compile(r"[^A-Za-z0-9()\[\] ./'@_-]")


@dataclass(frozen=True)
class Ec2Plan:
    """The AMI to make: name, description, architecture, boot mode and tags."""

    name: str
    description: str
    architecture: str
    boot_mode: str
    tags: dict[str, str]


def ami_name(name: str) -> str:
    """``name`` made acceptable to EC2 (3-128 of letters, digits and ()[] ./-'@_)."""
    cleaned = _AMI_NAME_BAD.sub("-", name)[:128]
    if len(cleaned) < 3:
        raise PublishError(f"AMI name {name!r} is too short: EC2 needs at least 3 characters")
    return cleaned


def boot_mode(record: BuildRecord, asked: str | None) -> str:
    """The AMI's boot mode: what was asked if the build supports it, else what it boots."""
    modes = set(record.boot_modes)
    if asked is None:
        if {"uefi", "bios"} <= modes:
            return "uefi-preferred"
        if "uefi" in modes:
            return "uefi"
        if "bios" in modes:
            return "legacy-bios"
        raise PublishError(f"build {record.id} records no boot mode (uefi or bios)")
    needed = {"legacy-bios": {"bios"}, "uefi": {"uefi"}, "uefi-preferred": {"uefi", "bios"}}
    missing = needed[asked] - modes
    if missing:
        raise PublishError(
            f"boot mode {asked} needs a build that boots with {' and '.join(sorted(missing))}; "
            f"build {record.id} boots with {', '.join(record.boot_modes) or 'nothing'}"
        )
    return asked


def make_plan(record: BuildRecord, target: Ec2Target) -> Ec2Plan:
    try:
        architecture = ARCHITECTURES[record.architecture]
    except KeyError:
        raise PublishError(
            f"build {record.id} is for {record.architecture!r}, which EC2 does not run"
        ) from None
    mode = boot_mode(record, target.boot_mode)
    if architecture == "arm64" and mode != "uefi":
        if target.boot_mode not in (None, "uefi"):
            raise PublishError("arm64 images boot with UEFI only; use --boot-mode uefi")
        mode = "uefi"
    name = ami_name(target.name or record.name)
    description = (
        target.description
        or str(record.manifest.get("description") or "")
        or f"{record.name}: Debian {record.release} {record.architecture}"
    )[:255]
    tags = {
        "Name": name,
        BUILD_TAG: record.id,
        MANIFEST_TAG: record.manifest_sha256,
        **target.tags,
    }
    return Ec2Plan(name, description, architecture, mode, tags)


def settings_for(target: Ec2Target) -> AwsSettings:
    """AWS settings from a target; explicit keys only when the target carries them."""
    creds = target.credentials
    return AwsSettings(
        region=target.region,
        profile=target.profile,
        endpoint_url=target.endpoint_url,
        access_key=creds.access_key.get_secret_value() if creds else None,
        secret_key=creds.secret_key.get_secret_value() if creds else None,
    )
