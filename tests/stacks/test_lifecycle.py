"""A stack's life against the moto server: change a parameter, diff, update, delete; a
user template; a failing deploy; resource types the endpoint skips."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest
from awsloop import REGION

from shipyard.cli.main import main

BUCKET = """\
name: bucket
recipe: s3
region: us-east-1
parameters: {NoncurrentDays: DAYS}
"""

USER_TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  Cidr: {Type: String, Default: 10.9.0.0/16}
Resources:
  Vpc:
    Type: AWS::EC2::VPC
    Properties: {CidrBlock: !Ref Cidr}
  Subnet:
    Type: AWS::EC2::Subnet
    Properties: {VpcId: !Ref Vpc, CidrBlock: SUBNET}
Outputs:
  VpcId: {Value: !Ref Vpc, Description: the VPC}
"""


def run(url: str, folder: Path, *argv: str) -> int:
    return main(["stacks", *argv, "--dir", str(folder), "--endpoint-url", url])


def cfn(url: str):  # type: ignore[no-untyped-def]
    return boto3.client("cloudformation", region_name=REGION, endpoint_url=url)


def test_change_a_parameter_diff_update_delete(
    aws: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "bucket.yml").write_text(BUCKET.replace("DAYS", "30"))
    assert run(aws, tmp_path, "deploy", "bucket", "--yes") == 0
    capsys.readouterr()
    assert run(aws, tmp_path, "deploy", "bucket", "--yes") == 0
    assert "stack bucket: no changes" in capsys.readouterr().err

    (tmp_path / "bucket.yml").write_text(BUCKET.replace("DAYS", "60"))
    assert run(aws, tmp_path, "diff", "bucket", "--json") == 0
    diff = json.loads(capsys.readouterr().out)
    assert diff["parameters"] == {"NoncurrentDays": ["30", "60"]}
    assert diff["template_diff"] == []
    # The moto server lists no resource changes for a change of parameters alone.
    assert run(aws, tmp_path, "deploy", "bucket", "--yes") == 0
    captured = capsys.readouterr()
    assert "parameter NoncurrentDays: 30 → 60" in captured.err
    assert "change set for bucket (update)" in captured.out
    stack = cfn(aws).describe_stacks(StackName="bucket")["Stacks"][0]
    assert stack["StackStatus"] == "UPDATE_COMPLETE"
    assert {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]} == {
        "NoncurrentDays": "60"
    }
    assert run(aws, tmp_path, "events", "bucket") == 0
    assert "UPDATE_COMPLETE" in capsys.readouterr().err

    assert run(aws, tmp_path, "delete", "bucket", "--yes") == 0
    assert run(aws, tmp_path, "outputs", "bucket") == 1
    assert "stack bucket is not deployed" in capsys.readouterr().err


def test_a_user_template_deploys_through_the_same_path(
    aws: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "mine.yml").write_text(USER_TEMPLATE.replace("SUBNET", "10.9.1.0/24"))
    (tmp_path / "s.yml").write_text(
        "name: mine\ntemplate: templates/mine.yml\nregion: us-east-1\n"
        "parameters: {Cidr: 10.9.0.0/16}\n"
    )
    assert run(aws, tmp_path, "deploy", "mine", "--yes", "--json") == 0
    result = json.loads(capsys.readouterr().out)
    assert result["outputs"]["VpcId"].startswith("vpc-")
    assert main(["stacks", "lint", str(tmp_path / "templates" / "mine.yml")]) == 0


@pytest.mark.parametrize("keep", [False, True])
def test_a_failing_deploy_names_the_resource_and_leaves_nothing(
    aws: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], keep: bool
) -> None:
    # A subnet outside its VPC's block: the endpoint refuses it.
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "t.yml").write_text(USER_TEMPLATE.replace("SUBNET", "10.200.0.0/24"))
    (tmp_path / "s.yml").write_text("name: broken\ntemplate: templates/t.yml\nregion: us-east-1\n")
    flags = ["--keep-failed"] if keep else []
    assert run(aws, tmp_path, "deploy", "broken", "--yes", *flags) == 1
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("shipyard: error:")]
    assert len(errors) == 1
    assert errors[0].startswith(
        "shipyard: error: stack broken: resource Subnet (AWS::EC2::Subnet) failed: "
    )
    assert "Traceback" not in err
    ec2 = boto3.client("ec2", region_name=REGION, endpoint_url=aws)
    vpcs = [v for v in ec2.describe_vpcs()["Vpcs"] if v["CidrBlock"] == "10.9.0.0/16"]
    stacks = [
        s for s in cfn(aws).describe_stacks()["Stacks"] if s["StackStatus"] != "DELETE_COMPLETE"
    ]
    if keep:
        assert len(vpcs) == 1 and [s["StackName"] for s in stacks] == ["broken"]
    else:
        assert vpcs == [] and stacks == []


def test_resource_types_the_endpoint_skips_are_named(
    aws: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "eb.yml").write_text(
        "name: eb\nrecipe: beanstalk\nregion: us-east-1\n"
        "parameters: {ArtifactBucket: apps, AppZip: app.zip}\n"
    )
    assert run(aws, tmp_path, "deploy", "eb", "--yes", "--json") == 0
    captured = capsys.readouterr()
    skipped = {s["logical_id"]: s["type"] for s in json.loads(captured.out)["skipped"]}
    assert skipped["Environment"] == "AWS::ElasticBeanstalk::Environment"
    assert "warning: Environment (AWS::ElasticBeanstalk::Environment) does not exist" in (
        " ".join(captured.err.split())
    )
    # What the client sent: the whole template, Beanstalk included.
    sent = cfn(aws).get_template(StackName="eb")["TemplateBody"]
    assert "AWS::ElasticBeanstalk::Environment" in str(sent)


def test_no_execute_and_diff_of_a_new_stack_leave_nothing(
    aws: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "bucket.yml").write_text(BUCKET.replace("DAYS", "30"))
    assert run(aws, tmp_path, "deploy", "bucket", "--no-execute") == 0
    captured = capsys.readouterr()
    assert "Bucket" in captured.out and "nothing changed" in captured.err
    assert run(aws, tmp_path, "diff", "bucket") == 0
    assert "AWS::S3::Bucket" in capsys.readouterr().out
    live = [
        s for s in cfn(aws).describe_stacks()["Stacks"] if s["StackStatus"] != "DELETE_COMPLETE"
    ]
    assert live == []


def test_deploy_without_yes_off_a_terminal_asks_for_it(
    aws: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "bucket.yml").write_text(BUCKET.replace("DAYS", "30"))
    assert run(aws, tmp_path, "deploy", "bucket") == 2
    assert "pass --yes when not at a terminal" in capsys.readouterr().err
    live = [
        s for s in cfn(aws).describe_stacks()["Stacks"] if s["StackStatus"] != "DELETE_COMPLETE"
    ]
    assert live == []
