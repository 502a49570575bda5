"""Deploys against the moto server over HTTP: network, then web on the catalog's image."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import boto3
import pytest
from awsloop import REGION

from shipyard.cli.main import main

from .conftest import add_to_catalog, register_ami

EXAMPLES = Path(__file__).parents[2] / "examples" / "stacks"


@pytest.fixture
def stack_dir(tmp_path: Path) -> Path:
    """The README's example stacks: network, and web on the minimal image."""
    folder = tmp_path / "stacks"
    shutil.copytree(EXAMPLES, folder)
    return folder


def stacks(url: str, folder: Path, *argv: str, store: Path | None = None) -> list[str]:
    args = ["stacks", *argv, "--dir", str(folder), "--endpoint-url", url]
    if store is not None:
        args += ["--store", str(store)]
    return args


def cfn(url: str):  # type: ignore[no-untyped-def]
    return boto3.client("cloudformation", region_name=REGION, endpoint_url=url)


def test_network_then_web_on_the_catalog_image(
    aws: str,
    stack_dir: Path,
    catalog: tuple[Path, str],
    gpg_home: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    store, ami = catalog
    assert main([*stacks(aws, stack_dir, "deploy", "network-dev", "--yes")]) == 0
    out = capsys.readouterr().out
    assert "VpcId" in out and "vpc-" in out
    assert main([*stacks(aws, stack_dir, "outputs", "network-dev", "--json")]) == 0
    network = json.loads(capsys.readouterr().out)

    argv = stacks(aws, stack_dir, "deploy", "web-dev", "--yes", "--json", store=store)
    assert main([*argv, "--keyring", str(gpg_home)]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["status"] == "CREATE_COMPLETE" and result["skipped"] == []
    assert result["outputs"]["LaunchTemplateId"].startswith("lt-")

    ec2 = boto3.client("ec2", region_name=REGION, endpoint_url=aws)
    versions = ec2.describe_launch_template_versions(
        LaunchTemplateId=result["outputs"]["LaunchTemplateId"]
    )["LaunchTemplateVersions"]
    assert versions[-1]["LaunchTemplateData"]["ImageId"] == ami
    assert versions[-1]["LaunchTemplateData"]["MetadataOptions"]["HttpTokens"] == "required"
    groups = boto3.client("autoscaling", region_name=REGION, endpoint_url=aws)
    (group,) = groups.describe_auto_scaling_groups()["AutoScalingGroups"]
    assert set(group["VPCZoneIdentifier"].split(",")) == set(network["PrivateSubnetIds"].split(","))
    elb = boto3.client("elbv2", region_name=REGION, endpoint_url=aws)
    (balancer,) = elb.describe_load_balancers()["LoadBalancers"]
    assert balancer["VpcId"] == network["VpcId"]
    tags = {
        t["Key"]: t["Value"]
        for t in cfn(aws).describe_stacks(StackName="web-dev")["Stacks"][0]["Tags"]
    }
    assert tags["shipyard:build-id"] == "20261120-000001-minimal"
    assert tags["shipyard:stack"] == "web-dev"

    # A newer stable image in the catalog: diff says it would roll out.
    newer_image = register_ami(aws, "debian-bookworm-minimal-2")
    add_to_catalog(store, gpg_home, newer_image, n=2)
    newer = newer_image[0]
    argv = stacks(aws, stack_dir, "diff", "web-dev", "--json", store=store)
    assert main([*argv, "--keyring", str(gpg_home)]) == 0
    diff = json.loads(capsys.readouterr().out)
    assert diff["parameters"] == {"ImageId": [ami, newer]}
    assert diff["tags"]["shipyard:build-id"] == [
        "20261120-000001-minimal",
        "20261120-000002-minimal",
    ]


def test_web_before_network_says_which_to_deploy_first(
    aws: str,
    stack_dir: Path,
    catalog: tuple[Path, str],
    gpg_home: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    store, _ = catalog
    argv = stacks(aws, stack_dir, "deploy", "web-dev", "--yes", store=store)
    assert main([*argv, "--keyring", str(gpg_home)]) == 1
    err = capsys.readouterr().err
    assert "network-dev, which is not deployed; deploy network-dev first" in err
    assert cfn(aws).describe_stacks()["Stacks"] == []


def test_the_stacks_policy_allows_every_call_a_deploy_makes(
    aws: str,
    stack_dir: Path,
    catalog: tuple[Path, str],
    gpg_home: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from awsloop import Recorder

    from shipyard.aws import session
    from shipyard.aws.iam import actions

    recorder = Recorder()
    real = session.make_session
    monkeypatch.setattr(
        session, "make_session", lambda settings, hooks=(): real(settings, recorder.hooks)
    )
    store, _ = catalog
    (stack_dir / "docker").mkdir()
    (stack_dir / "docker" / "Dockerfile").write_text("FROM debian:bookworm\n")
    (stack_dir / "bucket.yml").write_text("name: artifacts\nrecipe: s3\nregion: us-east-1\n")
    (stack_dir / "tmpl").mkdir()
    (stack_dir / "tmpl" / "t.yml").write_text(
        "Parameters: {Zip: {Type: String}}\n"
        "Resources: {G: {Type: AWS::EC2::SecurityGroup, Properties: {GroupDescription: g}}}\n"
    )
    (stack_dir / "app.yml").write_text(
        "name: app\ntemplate: tmpl/t.yml\nregion: us-east-1\n"
        "artifacts: {Zip: {folder: docker, bucket: {stack: artifacts, output: BucketName}}}\n"
    )
    catalog_flags = ["--keyring", str(gpg_home)]
    for verb in (
        ["deploy", "network-dev", "--yes"],
        ["deploy", "web-dev", "--yes", *catalog_flags],
        ["diff", "web-dev", *catalog_flags],
        ["deploy", "artifacts", "--yes"],
        ["deploy", "app", "--yes"],
        ["deploy", "app", "--yes"],
        ["events", "web-dev"],
        ["outputs", "web-dev"],
        ["delete", "app", "--yes"],
        ["list"],
    ):
        assert (
            main(stacks(aws, stack_dir, *verb, store=store if "--keyring" in verb else None)) == 0
        )
    capsys.readouterr()
    assert recorder.calls
    missing = recorder.iam() - set(actions("stacks"))
    assert missing == set()


def test_a_stack_following_the_channel_through_ssm(
    aws: str,
    stack_dir: Path,
    catalog: tuple[Path, str],
    gpg_home: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    store, ami = catalog
    version = "20261120"
    promote = ["catalog", "promote", version, "--channel", "stable", "--ssm", "--json"]
    flags = ["--store", str(store), "--keyring", str(gpg_home), "--aws-endpoint-url", aws]
    assert main([*promote, *flags]) == 0
    written = json.loads(capsys.readouterr().out)["ssm"]
    name = "/shipyard/images/debian/bookworm/amd64/minimal/stable"
    assert written == {REGION: name}
    ssm = boto3.client("ssm", region_name=REGION, endpoint_url=aws)
    assert ssm.get_parameter(Name=name)["Parameter"]["Value"] == ami

    from awsloop import Recorder

    from shipyard.aws import session

    recorder = Recorder()
    real = session.make_session
    monkeypatch.setattr(
        session, "make_session", lambda settings, hooks=(): real(settings, recorder.hooks)
    )
    web = (stack_dir / "web.yml").read_text()
    (stack_dir / "web.yml").write_text(
        web.replace("channel: stable}", "channel: stable, follow: ssm}")
    )
    assert main(stacks(aws, stack_dir, "deploy", "network-dev", "--yes")) == 0
    argv = stacks(aws, stack_dir, "deploy", "web-dev", "--yes", "--json", store=store)
    assert main([*argv, "--keyring", str(gpg_home)]) == 0
    capsys.readouterr()
    (sent,) = [p for p in recorder.params("CreateChangeSet") if p["StackName"] == "web-dev"]
    assert {"ParameterKey": "ImageId", "ParameterValue": name} in sent["Parameters"]
    template = cfn(aws).get_template(StackName="web-dev")["TemplateBody"]
    assert "AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>" in str(template)
    ec2 = boto3.client("ec2", region_name=REGION, endpoint_url=aws)
    (lt,) = ec2.describe_launch_templates()["LaunchTemplates"]
    data = ec2.describe_launch_template_versions(LaunchTemplateId=lt["LaunchTemplateId"])
    assert data["LaunchTemplateVersions"][-1]["LaunchTemplateData"]["ImageId"] == ami
