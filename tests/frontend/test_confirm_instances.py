"""Identity joins confirmed with EC2 (moto): running, and in the allowed VPC, subnet, role."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import httpx
import pytest
from awsloop import REGION
from frontloop import ACCOUNT, Frontend, Signer

from shipyard.aws.session import AwsSettings
from shipyard.errors import FrontendError
from shipyard.frontend import setup
from shipyard.frontend.api.app import create_app
from shipyard.frontend.core import db
from shipyard.frontend.core.config import FrontendConfig, IdentityBinding, IdentityCert
from shipyard.frontend.server import background

pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


@pytest.fixture
def place(aws: str) -> dict[str, str]:
    """Two subnets in one VPC, and a role's instance profile, in the moto server."""
    ec2 = boto3.client("ec2", region_name=REGION, endpoint_url=aws)
    iam = boto3.client("iam", region_name=REGION, endpoint_url=aws)
    vpc = ec2.create_vpc(CidrBlock="10.8.0.0/16")["Vpc"]["VpcId"]
    allowed = ec2.create_subnet(VpcId=vpc, CidrBlock="10.8.1.0/24")["Subnet"]["SubnetId"]
    other = ec2.create_subnet(VpcId=vpc, CidrBlock="10.8.2.0/24")["Subnet"]["SubnetId"]
    iam.create_instance_profile(InstanceProfileName="backend-host")
    image = ec2.register_image(
        Name="backend", RootDeviceName="/dev/xvda", VirtualizationType="hvm"
    )["ImageId"]
    return {"vpc": vpc, "allowed": allowed, "other": other, "image": image}


def run_instance(aws: str, place: dict[str, str], subnet: str) -> str:
    ec2 = boto3.client("ec2", region_name=REGION, endpoint_url=aws)
    instance = ec2.run_instances(
        ImageId=place["image"],
        InstanceType="t3.micro",
        MinCount=1,
        MaxCount=1,
        SubnetId=subnet,
        IamInstanceProfile={"Name": "backend-host"},
    )["Instances"][0]
    return str(instance["InstanceId"])


@pytest.fixture
def confirmed(aws: str, db_url: str, signer: Signer, place: dict[str, str]) -> Iterator[Frontend]:
    engine = db.make_engine(db_url)
    made = setup.init(engine)
    settings = FrontendConfig(
        db_url=db_url,
        identity_certs=(IdentityCert(signer.cert_pem),),
        identity_accounts=(ACCOUNT,),
        identity_bindings=(
            IdentityBinding(
                "backend",
                vpc_ids=(place["vpc"],),
                subnet_ids=(place["allowed"],),
                roles=("backend-host",),
            ),
        ),
        confirm_instances=AwsSettings(endpoint_url=aws),
    )
    with (
        background(create_app(settings, engine=engine)) as url,
        httpx.Client(base_url=url, timeout=30) as http,
    ):
        yield Frontend(url, made["admin_token"], made["join_token"], engine, http)
    engine.dispose()


def proof(signer: Signer, instance_id: str) -> dict[str, Any]:
    document, signature = signer.sign(
        {
            "instanceId": instance_id,
            "accountId": ACCOUNT,
            "region": REGION,
            "pendingTime": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
    )
    return {"identity_document": document, "identity_signature": signature, "token": ""}


def test_a_running_instance_in_its_place_joins(
    confirmed: Frontend, signer: Signer, aws: str, place: dict[str, str]
) -> None:
    instance = run_instance(aws, place, place["allowed"])
    response = confirmed.join(instance, **proof(signer, instance))
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("other-subnet", "this subnet"),
        ("terminated", "not running"),
        ("unknown", "EC2 does not know"),
    ],
)
def test_instances_ec2_does_not_vouch_for_are_refused(
    confirmed: Frontend, signer: Signer, aws: str, place: dict[str, str], case: str, reason: str
) -> None:
    if case == "unknown":
        instance = "i-0123456789abcdef0"
    else:
        subnet = place["other" if case == "other-subnet" else "allowed"]
        instance = run_instance(aws, place, subnet)
    if case == "terminated":
        boto3.client("ec2", region_name=REGION, endpoint_url=aws).terminate_instances(
            InstanceIds=[instance]
        )
    before = confirmed.snapshot()
    response = confirmed.join(instance, **proof(signer, instance))
    assert response.status_code == 403, response.text
    assert reason in response.json()["detail"]
    assert confirmed.snapshot() == before


def test_vpc_bindings_without_ec2_refuse_to_start(db_url: str) -> None:
    settings = FrontendConfig(
        db_url=db_url, identity_bindings=(IdentityBinding("backend", vpc_ids=("vpc-1",)),)
    )
    with pytest.raises(FrontendError, match="confirmed with EC2"):
        create_app(settings)
