"""What prune asks EC2: is an AMI still in use (removing one is ``aws.ami.delete_image``)."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from shipyard.aws.session import translated

if TYPE_CHECKING:
    from shipyard.aws.session import Hook

ClientFactory = Callable[[str], Any]
LIVE_STATES = ["pending", "running", "shutting-down", "stopping", "stopped"]


def client_factory(
    endpoint_url: str | None = None, profile: str | None = None, hooks: Sequence[Hook] = ()
) -> ClientFactory:
    """Region -> EC2 client made through Shipyard's AWS session factory.

    ``hooks`` are botocore event handlers for every client made.
    """
    from shipyard.aws.session import AwsSettings, client, make_session

    endpoint = endpoint_url or os.environ.get("SHIPYARD_EC2_ENDPOINT_URL")
    clients: dict[str, Any] = {}

    def make(region: str) -> Any:
        if region not in clients:
            settings = AwsSettings(region=region, profile=profile, endpoint_url=endpoint)
            clients[region] = client(make_session(settings, hooks), "ec2", settings)
        return clients[region]

    return make


def _call(what: str, fn: Callable[..., Any], **kwargs: Any) -> Any:
    with translated(what):
        return fn(**kwargs)


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
