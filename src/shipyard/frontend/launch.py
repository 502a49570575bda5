"""`frontend launch`: run EC2 instances that join this frontend, and expect them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine

from shipyard.aws.session import AwsSettings, call, client, make_session
from shipyard.cleanup import cleanup_scope
from shipyard.errors import UsageError
from shipyard.frontend.core import db
from shipyard.frontend.crud import appliances, hosts, tokens
from shipyard.frontend.schemas.hosts import HostCreate, HostPublic


@dataclass(frozen=True)
class LaunchRequest:
    appliance: str
    count: int
    ami: str
    instance_type: str
    master: str
    subnet: str | None = None
    key_name: str | None = None


def user_data(master: str, appliance: str, token: str) -> str:
    """The JSON user data that makes the boot agent join ``master``."""
    return json.dumps({"master": master, "appliance": appliance, "token": token})


def launch(engine: Engine, req: LaunchRequest, aws: AwsSettings) -> list[HostPublic]:
    """Run ``req.count`` instances with join user data; record each as an expected host."""
    from shipyard.agent.register import parse_master

    try:
        parse_master(req.master)
    except ValueError as exc:
        raise UsageError(f"--master: {exc}") from exc
    if req.count < 1:
        raise UsageError("--count must be at least 1")
    db.check_current(engine)
    sessions = db.session_factory(engine)
    with sessions() as session, session.begin():
        appliances.get(session, req.appliance)
        _, token = tokens.create(
            session, "join", description=f"launch of {req.count} {req.appliance}"
        )
    ec2 = client(make_session(aws), "ec2", aws)
    params: dict[str, Any] = {
        "ImageId": req.ami,
        "InstanceType": req.instance_type,
        "MinCount": req.count,
        "MaxCount": req.count,
        "UserData": user_data(req.master, req.appliance, token),
        "TagSpecifications": [
            {
                "ResourceType": "instance",
                "Tags": [{"Key": "shipyard:appliance", "Value": req.appliance}],
            }
        ],
    }
    if req.subnet:
        params["SubnetId"] = req.subnet
    if req.key_name:
        params["KeyName"] = req.key_name
    with cleanup_scope() as cleanup:
        instances = call(ec2, "run_instances", "RunInstances", **params)["Instances"]
        ids = [i["InstanceId"] for i in instances]
        cleanup.register(
            f"terminate {' '.join(ids)}",
            lambda: call(ec2, "terminate_instances", "TerminateInstances", InstanceIds=ids),
        )
        recorded = _expect(sessions, req.appliance, instances)
    return recorded


def _expect(sessions: Any, appliance: str, instances: list[dict[str, Any]]) -> list[HostPublic]:
    recorded: list[HostPublic] = []
    with sessions() as session, session.begin():
        app = appliances.get(session, appliance)
        for instance in instances:
            zone = instance.get("Placement", {}).get("AvailabilityZone", "")
            rack = hosts.rack_from_zone(zone)
            rank = hosts.next_rank(session, app.id, rack)
            body = HostCreate(
                name=f"{appliance}-{rack}-{rank}",
                appliance=appliance,
                rack=rack,
                rank=rank,
                instance_id=instance["InstanceId"],
                ips=[instance["PrivateIpAddress"]] if instance.get("PrivateIpAddress") else [],
            )
            recorded.append(hosts.public(hosts.add(session, body, state="expected")))
    return recorded
