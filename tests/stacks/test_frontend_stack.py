"""The `frontend` recipe deployed to the moto server: replicas on the catalog's frontend
image behind an internal load balancer, RDS, and appliance groups that join through it."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import boto3
import pytest
from awsloop import REGION
from cfnlint.decode import cfn_yaml

from shipyard.cli.main import main
from shipyard.stacks import recipes
from shipyard.stacks.model import StackDefinition, StackFile
from shipyard.stacks.render import render

from .conftest import add_to_catalog, register_ami
from .test_deploy import cfn, stacks

JOIN_TOKEN = "syj_" + "j" * 40
STACK = """\
name: fleet
recipe: frontend
region: us-east-1
image: {flavour: frontend, release: bookworm, arch: amd64, channel: stable}
parameters:
  VpcId: VPC
  PrivateSubnetIds: SUBNETS
  BackendImageId: BACKEND
  CertificateArn: CERTIFICATE
  CatalogBucket: shipyard-catalog
  Appliance2: compute
  FrontendDomain: frontend.example.internal
"""


def _template() -> dict:  # type: ignore[type-arg]
    example = recipes.get("frontend").example
    definition = StackDefinition(
        spec=StackFile(name="fleet", recipe="frontend", parameters=dict(example))
    )
    document: dict = json.loads(render(definition, "json").body)  # type: ignore[type-arg]
    return document


def _statements(template: dict) -> list[dict]:  # type: ignore[type-arg]
    policies = template["Resources"]["FrontendRole"]["Properties"]["Policies"]
    return [s for p in policies for s in p["PolicyDocument"]["Statement"]]


def test_the_frontend_role_holds_only_what_the_frontend_does() -> None:
    statements = _statements(_template())
    actions = sorted(a for s in statements for a in s["Action"])
    assert "secretsmanager:GetSecretValue" in actions
    assert "ssm:GetParameter" in actions
    assert {"ec2:RunInstances", "autoscaling:SetDesiredCapacity", "iam:PassRole"} <= set(actions)
    assert not [a for a in actions if a.endswith(":*") or a == "*"]
    assert not [
        a for a in actions if a.startswith("s3:") and a not in ("s3:GetObject", "s3:ListBucket")
    ]
    (pass_role,) = [s for s in statements if s["Action"] == ["iam:PassRole"]]
    assert pass_role["Resource"] == [{"Fn::GetAtt": ["HostRole", "Arn"]}]
    (secret,) = [s for s in statements if s["Action"] == ["secretsmanager:GetSecretValue"]]
    assert secret["Resource"] == [{"Ref": "MasterSecret"}]


def test_tiers_open_only_to_the_tier_in_front() -> None:
    resources = _template()["Resources"]
    rules = {
        name: (r["Properties"]["GroupId"], r["Properties"]["SourceSecurityGroupId"])
        for name, r in resources.items()
        if r["Type"] == "AWS::EC2::SecurityGroupIngress"
    }
    assert rules["FrontendFromLoadBalancer"] == (
        {"Fn::GetAtt": ["FrontendSecurityGroup", "GroupId"]},
        {"Fn::GetAtt": ["LoadBalancerGroup", "GroupId"]},
    )
    assert rules["DatabaseFromFrontend"][1] == {"Fn::GetAtt": ["FrontendSecurityGroup", "GroupId"]}
    assert resources["HostGroup"]["Properties"]["SecurityGroupIngress"] == []
    database = resources["Database"]["Properties"]
    assert database["PubliclyAccessible"] is False and database["StorageEncrypted"] is True


@pytest.fixture
def network(aws: str) -> tuple[str, list[str]]:
    ec2 = boto3.client("ec2", region_name=REGION, endpoint_url=aws)
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.1{n}.0/24", AvailabilityZone=f"{REGION}{z}")[
            "Subnet"
        ]["SubnetId"]
        for n, z in ((0, "a"), (1, "b"))
    ]
    return vpc, subnets


def test_the_fleet_deploys_and_its_hosts_join_through_the_balancer(
    aws: str,
    tmp_path: Path,
    network: tuple[str, list[str]],
    gpg_home: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    store = tmp_path / "catalog"
    frontend_image = register_ami(aws, "debian-bookworm-frontend")
    add_to_catalog(store, gpg_home, frontend_image, flavour="frontend")
    backend_image, _ = register_ami(aws, "debian-bookworm-backend")
    ssm = boto3.client("ssm", region_name=REGION, endpoint_url=aws)
    ssm.put_parameter(Name="/shipyard/frontend/join-token", Value=JOIN_TOKEN, Type="String")
    vpc, subnets = network
    acm = boto3.client("acm", region_name=REGION, endpoint_url=aws)
    certificate = acm.request_certificate(DomainName="frontend.example.internal")["CertificateArn"]
    folder = tmp_path / "stacks"
    folder.mkdir()
    text = STACK.replace("VPC", vpc).replace("SUBNETS", ",".join(subnets))
    text = text.replace("CERTIFICATE", certificate)
    (folder / "fleet.yml").write_text(text.replace("BACKEND", backend_image))

    argv = stacks(aws, folder, "deploy", "fleet", "--yes", "--json", store=store)
    assert main([*argv, "--keyring", str(gpg_home)]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["status"] == "CREATE_COMPLETE"
    outputs = result["outputs"]
    assert outputs["FrontendUrl"].startswith("https://") and outputs["FrontendUrl"].endswith(
        ":8470"
    )
    assert outputs["JoinTokenParameter"] == "/shipyard/frontend/join-token"
    assert outputs["CatalogBucket"] == "shipyard-catalog"
    assert outputs["Appliance1GroupName"] == "fleet-backend"
    assert outputs["Appliance2GroupName"] == "fleet-compute"
    assert "Appliance3GroupName" not in outputs  # the empty slot makes nothing
    # The moto server makes no Secrets Manager resources from a template; what the client
    # sent is checked instead.
    assert {s["type"] for s in result["skipped"]} <= {
        "AWS::SecretsManager::Secret",
        "AWS::SecretsManager::SecretTargetAttachment",
    }
    body = cfn(aws).get_template(StackName="fleet")["TemplateBody"]
    sent = body if isinstance(body, dict) else cfn_yaml.loads(body)
    assert sent["Resources"]["SecretAttachment"]["Properties"]["TargetType"] == (
        "AWS::RDS::DBInstance"
    )

    elb = boto3.client("elbv2", region_name=REGION, endpoint_url=aws)
    (balancer,) = elb.describe_load_balancers()["LoadBalancers"]
    assert balancer["Scheme"] == "internal" and balancer["VpcId"] == vpc
    assert outputs["FrontendUrl"] == "https://frontend.example.internal:8470"
    (listener,) = elb.describe_listeners(LoadBalancerArn=balancer["LoadBalancerArn"])["Listeners"]
    assert (listener["Port"], listener["Protocol"]) == (8470, "HTTPS")
    (target,) = elb.describe_target_groups()["TargetGroups"]
    assert target["HealthCheckPath"] == "/healthz" and target["Port"] == 8470

    rds = boto3.client("rds", region_name=REGION, endpoint_url=aws)
    (database,) = rds.describe_db_instances()["DBInstances"]
    assert database["Engine"] == "postgres" and database["PubliclyAccessible"] is False

    groups = boto3.client("autoscaling", region_name=REGION, endpoint_url=aws)
    by_name = {g["AutoScalingGroupName"]: g for g in groups.describe_auto_scaling_groups()[
        "AutoScalingGroups"
    ]}  # fmt: skip
    assert {"fleet-backend", "fleet-compute"} <= set(by_name)
    frontends = [g for n, g in by_name.items() if n not in ("fleet-backend", "fleet-compute")]
    assert [g["MinSize"] for g in frontends] == [2]
    assert by_name["fleet-backend"]["DesiredCapacity"] == 0

    ec2 = boto3.client("ec2", region_name=REGION, endpoint_url=aws)
    data = {}
    for group in by_name.values():
        spec = group["LaunchTemplate"]
        (version,) = ec2.describe_launch_template_versions(
            LaunchTemplateId=spec["LaunchTemplateId"], Versions=["$Latest"]
        )["LaunchTemplateVersions"]
        template_data = version["LaunchTemplateData"]
        assert template_data["MetadataOptions"]["HttpTokens"] == "required"
        user_data = json.loads(base64.b64decode(template_data["UserData"]))
        data[group["AutoScalingGroupName"]] = (template_data["ImageId"], user_data)
    image, backend = data["fleet-backend"]
    assert image == backend_image
    assert backend == {
        "master": "https://frontend.example.internal:8470",  # the certificate's name
        "appliance": "backend",
        "token": JOIN_TOKEN,
    }
    assert data["fleet-compute"][1]["appliance"] == "compute"
    ((image, frontend),) = [
        v for n, v in data.items() if n not in ("fleet-backend", "fleet-compute")
    ]
    assert image == frontend_image[0]
    assert frontend["frontend"]["join_token_parameter"] == "/shipyard/frontend/join-token"
    assert frontend["frontend"]["admin_token_parameter"] == "/shipyard/frontend/admin-token"
    assert frontend["frontend"]["region"] == REGION
    assert JOIN_TOKEN not in json.dumps(frontend)  # the frontend reads it from SSM itself
