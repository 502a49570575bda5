"""What one emulated instance looks like through the metadata service."""

from __future__ import annotations

import datetime
import hashlib
import json
import re
import secrets
from dataclasses import dataclass, field
from typing import Any

from shipyard.vm.identity import identity_document

# Tree nodes: a leaf's body, or a folder of named children (listed with "/" after folders).
Node = bytes | dict[str, "Node"]

# EC2 refuses larger user data at launch.
USER_DATA_LIMIT = 16 * 1024

# The characters EC2 allows in a tag key once tags are in instance metadata.
TAG_KEY = re.compile(r"[A-Za-z0-9+\-=.,_:@]+")

# Versions a client may ask for besides "latest"; cloud-init probes a few of these.
API_VERSIONS = (
    "1.0",
    "2007-01-19",
    "2009-04-04",
    "2011-01-01",
    "2016-09-02",
    "2018-09-24",
    "2021-03-23",
    "latest",
)


def new_instance_id() -> str:
    return "i-" + secrets.token_hex(9)[:17]


def new_mac() -> str:
    # Locally administered, unicast; the 52:54:00 prefix is what qemu uses.
    return "52:54:00:" + ":".join(f"{b:02x}" for b in secrets.token_bytes(3))


@dataclass(frozen=True)
class Instance:
    """The facts the emulator serves for one instance."""

    instance_id: str = field(default_factory=new_instance_id)
    image_id: str = "ami-00000000000000000"
    instance_type: str = "t3.micro"
    hostname: str = "ip-10-0-2-15"
    local_ipv4: str = "10.0.2.15"
    mac: str = field(default_factory=new_mac)
    region: str = "us-east-1"
    availability_zone: str = "us-east-1a"
    account_id: str = "000000000000"
    architecture: str = "x86_64"
    key_name: str = "shipyard"
    public_keys: tuple[str, ...] = ()
    user_data: bytes | None = None
    # Served under meta-data/tags/instance/ (EC2 does so when metadata tags are enabled).
    tags: tuple[tuple[str, str], ...] = ()
    # An instance profile's role: made-up credentials under meta-data/iam/, as the SDKs'
    # default chain reads them (a local moto server accepts any).
    iam_role: str | None = None
    launched: str = field(
        default_factory=lambda: datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    )

    def identity_fields(self) -> dict[str, Any]:
        return {
            "accountId": self.account_id,
            "architecture": self.architecture,
            "availabilityZone": self.availability_zone,
            "billingProducts": None,
            "devpayProductCodes": None,
            "marketplaceProductCodes": None,
            "imageId": self.image_id,
            "instanceId": self.instance_id,
            "instanceType": self.instance_type,
            "kernelId": None,
            "pendingTime": self.launched,
            "privateIp": self.local_ipv4,
            "ramdiskId": None,
            "region": self.region,
            "version": "2017-09-30",
        }

    def local_hostname(self) -> str:
        return f"{self.hostname}.ec2.internal"


def metadata_tree(instance: Instance) -> dict[str, Node]:
    """The ``meta-data/`` folder."""
    tree: dict[str, Node] = {
        "ami-id": instance.image_id.encode(),
        "ami-launch-index": b"0",
        "ami-manifest-path": b"(unknown)",
        "block-device-mapping": {"ami": b"/dev/xvda", "root": b"/dev/xvda"},
        "hostname": instance.local_hostname().encode(),
        "instance-action": b"none",
        "instance-id": instance.instance_id.encode(),
        "instance-life-cycle": b"on-demand",
        "instance-type": instance.instance_type.encode(),
        "local-hostname": instance.local_hostname().encode(),
        "local-ipv4": instance.local_ipv4.encode(),
        "mac": instance.mac.encode(),
        "placement": {
            "availability-zone": instance.availability_zone.encode(),
            "region": instance.region.encode(),
        },
        "reservation-id": ("r-" + instance.instance_id[2:]).encode(),
        "security-groups": b"default",
        "services": {"domain": b"amazonaws.com", "partition": b"aws"},
    }
    if instance.tags:
        tree["tags"] = {"instance": {key: value.encode() for key, value in instance.tags}}
    if instance.iam_role:
        tree["iam"] = iam_tree(instance)
    if instance.public_keys:
        tree["public-keys"] = {
            str(i): {"openssh-key": key.encode()} for i, key in enumerate(instance.public_keys)
        }
    return tree


def iam_tree(instance: Instance) -> dict[str, Node]:
    """``meta-data/iam/``: the role's profile and made-up credentials, the same on every read."""
    role = instance.iam_role or ""
    seed = hashlib.sha256(f"{instance.instance_id}/{role}".encode()).hexdigest()
    stamp = "%Y-%m-%dT%H:%M:%SZ"
    expires = datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=6)
    credentials = {
        "Code": "Success",
        "LastUpdated": instance.launched,
        "Type": "AWS-HMAC",
        "AccessKeyId": "ASIA" + seed[:16].upper(),
        "SecretAccessKey": seed[16:56],
        "Token": seed[56:] + seed[:32],
        "Expiration": expires.strftime(stamp),
    }
    info = {
        "Code": "Success",
        "LastUpdated": instance.launched,
        "InstanceProfileArn": f"arn:aws:iam::{instance.account_id}:instance-profile/{role}",
        "InstanceProfileId": "AIPA" + seed[:16].upper()[::-1],
    }
    return {
        "info": json.dumps(info).encode(),
        "security-credentials": {role: json.dumps(credentials).encode()},
    }


def tag_problem(key: str, value: str) -> str | None:
    """Why EC2 would not serve this tag through the metadata service, or None."""
    if not key or len(key) > 128 or key in (".", "..") or not TAG_KEY.fullmatch(key):
        return (
            f"tag key {key!r} cannot be served as instance metadata "
            "(1-128 of letters, digits and + - = . , _ : @)"
        )
    if len(value) > 256:
        return f"tag {key}: the value is longer than 256 characters"
    return None


def public_keys_listing(instance: Instance) -> bytes:
    """EC2 lists keys as ``INDEX=NAME``, not as folders."""
    names = [
        instance.key_name if i == 0 else f"{instance.key_name}-{i}"
        for i in range(len(instance.public_keys))
    ]
    return "\n".join(f"{i}={name}" for i, name in enumerate(names)).encode()


def dynamic_tree(instance: Instance, sign: Any) -> dict[str, Node]:
    """The ``dynamic/`` folder; ``sign(document) -> str`` signs the identity document."""
    document = identity_document(instance.identity_fields())
    return {
        "instance-identity": {
            "document": document,
            "signature": sign(document).encode(),
        }
    }
