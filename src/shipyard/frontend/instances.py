"""Confirm an identity document's instance with EC2: running, and in the VPC, subnet and
role its appliance allows (facts the signed document does not carry)."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from shipyard.aws.session import AwsSettings, call, client, error_code, make_session
from shipyard.errors import AWSError
from shipyard.frontend.core.config import IdentityBinding
from shipyard.frontend.core.problems import Forbidden, Problem

LIVE_STATES = ("pending", "running")


class CannotConfirm(Problem):
    status = 503


@dataclass(frozen=True)
class InstanceFacts:
    state: str
    vpc_id: str
    subnet_id: str
    instance_profile_arn: str


class InstanceChecker:
    """DescribeInstances, one client per region, made on first use."""

    def __init__(self, aws: AwsSettings) -> None:
        self.aws = aws
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()

    def _client(self, region: str) -> Any:
        with self._lock:
            if region not in self._clients:
                session = make_session(self.aws)
                self._clients[region] = client(session, "ec2", self.aws, region=region)
            return self._clients[region]

    def describe(self, region: str, instance_id: str) -> InstanceFacts | None:
        """The instance as EC2 sees it, or None if EC2 does not know it."""
        try:
            answer = call(self._client(region), "describe_instances", InstanceIds=[instance_id])
        except AWSError as exc:
            if error_code(exc.__cause__ or exc) in (
                "InvalidInstanceID.NotFound",
                "InvalidInstanceID.Malformed",
            ):
                return None
            raise CannotConfirm(f"cannot confirm instance {instance_id} with EC2: {exc}") from exc
        for reservation in answer.get("Reservations", []):
            for instance in reservation.get("Instances", []):
                return InstanceFacts(
                    state=str(instance.get("State", {}).get("Name", "")),
                    vpc_id=str(instance.get("VpcId", "")),
                    subnet_id=str(instance.get("SubnetId", "")),
                    instance_profile_arn=str(instance.get("IamInstanceProfile", {}).get("Arn", "")),
                )
        return None


def confirm(
    facts: InstanceFacts | None,
    instance_id: str,
    appliance: str,
    bindings: tuple[IdentityBinding, ...],
) -> None:
    """Refuse an instance EC2 does not know, that is not running, or is outside its place."""
    if facts is None:
        raise Forbidden(f"EC2 does not know instance {instance_id}")
    if facts.state not in LIVE_STATES:
        raise Forbidden(f"instance {instance_id} is {facts.state}, not running")
    for binding in bindings:
        if binding.appliance != appliance:
            continue
        if binding.vpc_ids and facts.vpc_id not in binding.vpc_ids:
            raise Forbidden(f"appliance {appliance} does not accept hosts from this VPC")
        if binding.subnet_ids and facts.subnet_id not in binding.subnet_ids:
            raise Forbidden(f"appliance {appliance} does not accept hosts from this subnet")
        profile = facts.instance_profile_arn
        if binding.roles and not (
            profile in binding.roles or profile.rsplit("/", 1)[-1] in binding.roles
        ):
            raise Forbidden(f"appliance {appliance} does not accept hosts with this role")
