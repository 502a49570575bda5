"""Host bodies: admin create, public view, join, status reports."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field, StringConstraints

from shipyard.frontend.schemas.common import Body, Name, Rack, Short

InstanceId = Annotated[
    str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
]
Mac = Annotated[str, StringConstraints(pattern=r"^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$")]
Ip = Annotated[str, StringConstraints(max_length=45, pattern=r"^[0-9a-fA-F.:]{2,45}$")]
Zone = Annotated[str, StringConstraints(max_length=64, pattern=r"^[A-Za-z0-9-]*$")]

# Every state a host passes through, in order (the dashboard counts hosts by it).
STATES = ("expected", "registered", "profile-sent", "installing", "installed", "failed", "online")
ReportState = Literal["installing", "installed", "failed", "online"]


class HostCreate(Body):
    name: Name
    appliance: Name = "backend"
    rack: Rack = 0
    rank: Annotated[int, Field(ge=0, le=1000000)] | None = None
    instance_id: InstanceId | None = None
    macs: Annotated[list[Mac], Field(max_length=16)] = []
    ips: Annotated[list[Ip], Field(max_length=16)] = []


class HostPublic(BaseModel):
    name: str
    appliance: str
    rack: int
    rank: int
    instance_id: str | None
    macs: list[str]
    ips: list[str]
    # The address the frontend saw its last join come from.
    source_ip: str = ""
    state: str
    transitions: dict[str, str]
    message: str
    created: datetime
    updated: datetime


class JoinRequest(Body):
    """What a booting host sends: its facts from IMDS, and optionally its signed identity."""

    appliance: Name = "backend"
    instance_id: InstanceId
    availability_zone: Zone = ""
    region: Zone = ""
    local_ipv4: Ip | Literal[""] = ""
    mac: Mac | Literal[""] = ""
    hostname: Short = ""
    identity_document: Annotated[str, StringConstraints(max_length=8192)] = ""
    identity_signature: Annotated[str, StringConstraints(max_length=4096)] = ""
    # The nonce this instance was given on its first identity join, for re-joins.
    nonce: Annotated[str, StringConstraints(max_length=128)] = ""


class JoinResponse(BaseModel):
    host: HostPublic
    host_token: str
    expires: datetime
    # Given once, on an instance's first identity join: keep it to join as this host again.
    nonce: str | None = None


class StatusReport(Body):
    state: ReportState
    step: Short = ""
    message: Annotated[str, StringConstraints(max_length=4000)] = ""
    output_tail: Annotated[str, StringConstraints(max_length=16384)] = ""
