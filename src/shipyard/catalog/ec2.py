"""What prune asks EC2: is an AMI still in use, and removing one with its snapshots."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from shipyard.errors import CatalogError

ClientFactory = Callable[[str], Any]
LIVE_STATES = ["pending", "running", "shutting-down", "stopping", "stopped"]


def client_factory(endpoint_url: str | None = None, profile: str | None = None) -> ClientFactory:
    """Region -> EC2 client made through Shipyard's AWS session factory."""
    from shipyard.aws.session import AwsSettings, client, make_session

    endpoint = endpoint_url or os.environ.get("SHIPYARD_EC2_ENDPOINT_URL")
    clients: dict[str, Any] = {}

    def make(region: str) -> Any:
        if region not in clients:
            settings = AwsSettings(region=region, profile=profile, endpoint_url=endpoint)
            clients[region] = client(make_session(settings), "ec2", settings)
        return clients[region]

    return make


def _call(what: str, fn: Callable[..., Any], **kwargs: Any) -> Any:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return fn(**kwargs)
    except ClientError as exc:
        error = exc.response.get("Error", {})
        raise CatalogError(f"cannot {what}: {error.get('Code')}: {error.get('Message')}") from exc
    except BotoCoreError as exc:
        raise CatalogError(f"cannot {what}: {exc}") from exc


class Usage:
    """The AMIs in use in one region: by live instances and by launch template versions."""

    def __init__(self, client: Any, region: str) -> None:
        self.by_instances: dict[str, str] = {}
        self.by_templates: dict[str, str] = {}
        pages = client.get_paginator("describe_instances").paginate(
            Filters=[{"Name": "instance-state-name", "Values": LIVE_STATES}]
        )
        for page in _call(f"list the instances in {region}", lambda: list(pages)):
            for reservation in page.get("Reservations", []):
                for inst in reservation.get("Instances", []):
                    self.by_instances.setdefault(inst["ImageId"], inst["InstanceId"])
        templates = _call(
            f"list the launch templates in {region}", client.describe_launch_templates
        )
        for tmpl in templates.get("LaunchTemplates", []):
            versions = _call(
                f"read launch template {tmpl['LaunchTemplateName']}",
                client.describe_launch_template_versions,
                LaunchTemplateId=tmpl["LaunchTemplateId"],
            )
            for ver in versions.get("LaunchTemplateVersions", []):
                image = ver.get("LaunchTemplateData", {}).get("ImageId")
                if image:
                    self.by_templates.setdefault(image, tmpl["LaunchTemplateName"])

    def why_kept(self, ami_id: str) -> str | None:
        if ami_id in self.by_instances:
            return f"instance {self.by_instances[ami_id]} runs from {ami_id}"
        if ami_id in self.by_templates:
            return f"launch template {self.by_templates[ami_id]} names {ami_id}"
        return None


def delete_ami(client: Any, region: str, ami_id: str, snapshot_id: str | None) -> list[str]:
    """Deregister an AMI and delete its snapshots; returns the snapshot ids deleted."""
    try:
        found = _call(f"describe {ami_id} in {region}", client.describe_images, ImageIds=[ami_id])
        images = found.get("Images", [])
    except CatalogError as exc:
        if "InvalidAMIID" not in str(exc):
            raise
        images = []  # deregistered already; its snapshot may still be there
    snapshots = {snapshot_id} if snapshot_id else set()
    for image in images:
        for mapping in image.get("BlockDeviceMappings", []):
            snap = mapping.get("Ebs", {}).get("SnapshotId")
            if snap:
                snapshots.add(snap)
    if images:
        _call(f"deregister {ami_id} in {region}", client.deregister_image, ImageId=ami_id)
    deleted = []
    for snap in sorted(snapshots):
        from botocore.exceptions import ClientError

        try:
            client.delete_snapshot(SnapshotId=snap)
            deleted.append(snap)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "InvalidSnapshot.NotFound":
                code = exc.response.get("Error", {}).get("Code")
                raise CatalogError(f"cannot delete snapshot {snap} in {region}: {code}") from exc
    return deleted
