"""`frontend launch`: run EC2 instances that join this frontend, and expect them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import partial
from typing import Any

from sqlalchemy import Engine

from shipyard.aws.session import AwsSettings, call, client, make_session
from shipyard.cleanup import cleanup_scope
from shipyard.errors import UsageError
from shipyard.frontend.core import db
from shipyard.frontend.crud import appliances, hosts, tokens
from shipyard.frontend.schemas.hosts import HostCreate, HostPublic

# Long enough for an instance to boot and join; a token unused by then is worthless.
LAUNCH_TOKEN_TTL = 6 * 3600


@dataclass(frozen=True)
class LaunchRequest:
    appliance: str
    count: int
    ami: str
    instance_type: str
    master: str
    subnet: str | None = None
    key_name: str | None = None
    # The frontend certificate's SHA-256, which hosts pin; None with insecure plain HTTP.
    ca_sha256: str | None = None
    insecure: bool = False


def user_data(
    master: str, appliance: str, token: str, ca_sha256: str | None = None, insecure: bool = False
) -> str:
    """The JSON user data that makes the boot agent join ``master``."""
    doc: dict[str, Any] = {"master": master, "appliance": appliance, "token": token}
    if ca_sha256:
        doc["ca_sha256"] = ca_sha256
    if insecure:
        doc["insecure"] = True
    return json.dumps(doc)


def launch(engine: Engine, req: LaunchRequest, aws: AwsSettings) -> list[HostPublic]:
    """Run ``req.count`` instances with join user data; record each as an expected host."""
    from shipyard.agent.register import check_transport, parse_master

    try:
        check_transport(
            parse_master(req.master), {"ca_sha256": req.ca_sha256, "insecure": req.insecure}
        )
    except ValueError as exc:
        raise UsageError(str(exc), setting="master") from exc
    if req.count < 1:
        raise UsageError("must be at least 1", setting="count")
    db.check_current(engine)
    sessions = db.session_factory(engine)
    with sessions() as session, session.begin():
        appliances.get(session, req.appliance)
        # One single-use token per instance, good for this appliance only: a token read
        # from one instance's user data cannot join another host.
        plain = [
            tokens.create(
                session,
                "join",
                description=f"launch of {req.appliance} ({n + 1}/{req.count})",
                ttl=LAUNCH_TOKEN_TTL,
                uses=1,
                appliance=req.appliance,
            )[1]
            for n in range(req.count)
        ]
    ec2 = client(make_session(aws), "ec2", aws)
    params: dict[str, Any] = {
        "ImageId": req.ami,
        "InstanceType": req.instance_type,
        "MinCount": 1,
        "MaxCount": 1,
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
        instances: list[dict[str, Any]] = []
        for token in plain:
            data = user_data(req.master, req.appliance, token, req.ca_sha256, req.insecure)
            instance = call(ec2, "run_instances", "RunInstances", UserData=data, **params)
            instances += instance["Instances"]
            ids = [i["InstanceId"] for i in instance["Instances"]]
            cleanup.register(f"terminate {' '.join(ids)}", partial(_terminate, ec2, ids))
        recorded = _expect(sessions, req.appliance, instances)
    return recorded


# How long new instances of an auto-scaling group may take to be listed by it.
GROUP_GROWTH_WAIT = 120.0


def grow_group(
    engine: Engine, appliance: str, count: int, group: str, aws: AwsSettings
) -> list[HostPublic]:
    """Raise auto-scaling group ``group``'s desired capacity by ``count``; expect the new hosts.

    The group's launch template carries the join user data (the frontend stack writes it
    with a join token from SSM), so only the capacity changes here. The instances the
    group starts are recorded as expected hosts, pinned to their instance ids, as
    RunInstances' are.
    """
    import time

    if count < 1:
        raise UsageError("the count of hosts to add must be at least 1")
    db.check_current(engine)
    with db.session_factory(engine)() as session:
        appliances.get(session, appliance)
    autoscaling = client(make_session(aws), "autoscaling", aws)
    before = _group(autoscaling, group)
    desired = int(before["DesiredCapacity"]) + count
    if desired > int(before["MaxSize"]):
        raise UsageError(
            f"auto-scaling group {group} allows at most {before['MaxSize']} instances; "
            f"it has {before['DesiredCapacity']} and {count} more were asked for"
        )
    known = {i["InstanceId"] for i in before.get("Instances", [])}
    call(
        autoscaling,
        "set_desired_capacity",
        "SetDesiredCapacity",
        AutoScalingGroupName=group,
        DesiredCapacity=desired,
        HonorCooldown=False,
    )
    deadline = time.monotonic() + GROUP_GROWTH_WAIT
    while True:
        new = [
            i
            for i in _group(autoscaling, group).get("Instances", [])
            if i["InstanceId"] not in known
        ]
        if len(new) >= count or time.monotonic() > deadline:
            break
        time.sleep(2)
    started = [
        {
            "InstanceId": i["InstanceId"],
            "Placement": {"AvailabilityZone": i.get("AvailabilityZone", "")},
        }
        for i in new[:count]
    ]
    return _expect(db.session_factory(engine), appliance, started)


def _group(autoscaling: Any, name: str) -> dict[str, Any]:
    found = call(
        autoscaling,
        "describe_auto_scaling_groups",
        "DescribeAutoScalingGroups",
        AutoScalingGroupNames=[name],
    )["AutoScalingGroups"]
    if not found:
        raise UsageError(f"there is no auto-scaling group named {name!r}")
    group: dict[str, Any] = found[0]
    return group


def _terminate(ec2: Any, ids: list[str]) -> None:
    call(ec2, "terminate_instances", "TerminateInstances", InstanceIds=ids)


def _expect(sessions: Any, appliance: str, instances: list[dict[str, Any]]) -> list[HostPublic]:
    recorded: list[HostPublic] = []
    with sessions() as session, session.begin():
        app = appliances.get(session, appliance)
        for instance in instances:
            zone = instance.get("Placement", {}).get("AvailabilityZone", "")
            rack = hosts.rack_from_zone(zone)
            rank = hosts.next_rank(session, app.id, rack)
            body = HostCreate(
                name=hosts.host_name(appliance, rack, rank),
                appliance=appliance,
                rack=rack,
                rank=rank,
                instance_id=instance["InstanceId"],
                ips=[instance["PrivateIpAddress"]] if instance.get("PrivateIpAddress") else [],
            )
            recorded.append(hosts.public(hosts.add(session, body, state="expected")))
    return recorded
