"""`frontend launch` against a moto server: instances with join user data, expected hosts."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from awsloop import REGION, clients

from shipyard.cli.main import main
from shipyard.frontend import setup
from shipyard.frontend.core import db


def test_launch_runs_instances_that_will_join(
    aws: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'fe.db'}"
    made = setup.init(db.make_engine(url), tmp_path / "tls")
    ec2, _ = clients(aws)
    ami = ec2.register_image(
        Name="shipyard-backend", RootDeviceName="/dev/xvda", VirtualizationType="hvm"
    )["ImageId"]
    code = main(
        [
            "frontend", "launch", "--db", url, "--appliance", "backend", "--count", "3",
            "--ami", ami, "--instance-type", "t3.micro", "--master", "https://10.0.0.2:8470",
            "--tls-cert", made["tls_cert"], "--region", REGION, "--endpoint-url", aws, "--json",
        ]
    )  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 0, err
    launched = json.loads(out)
    assert [h["state"] for h in launched] == ["expected"] * 3
    assert [h["name"] for h in launched] == ["backend-0-0", "backend-0-1", "backend-0-2"]

    tokens = set()
    for host in launched:
        attr = ec2.describe_instance_attribute(InstanceId=host["instance_id"], Attribute="userData")
        data = json.loads(base64.b64decode(attr["UserData"]["Value"]))
        assert data["master"] == "https://10.0.0.2:8470"
        assert data["ca_sha256"] == made["ca_sha256"]
        assert data["appliance"] == "backend"
        assert "insecure" not in data
        tokens.add(data["token"])
    # One single-use join token per instance, good for its appliance only.
    assert len(tokens) == 3
    launched_tokens = [
        t for t in setup.list_tokens(db.make_engine(url), "join") if "launch of" in t.description
    ]
    assert [(t.uses_left, t.appliance) for t in launched_tokens] == [(1, "backend")] * 3
    assert all(t.expires is not None for t in launched_tokens)
    running = ec2.describe_instances(InstanceIds=[h["instance_id"] for h in launched])
    assert sum(len(r["Instances"]) for r in running["Reservations"]) == 3


def test_launch_refuses_a_master_that_names_no_host(
    aws: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'fe.db'}"
    setup.init(db.make_engine(url))
    code = main(
        [
            "frontend", "launch", "--db", url, "--appliance", "backend", "--ami", "ami-1",
            "--instance-type", "t3.micro", "--master", "https://front_end.example.com",
            "--region", REGION, "--endpoint-url", aws,
        ]
    )  # fmt: skip
    assert code == 2
    assert "is neither an IP address nor a DNS name" in capsys.readouterr().err
    ec2, _ = clients(aws)
    assert ec2.describe_instances()["Reservations"] == []


def test_launch_refuses_plain_http_unless_insecure(
    aws: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'fe.db'}"
    setup.init(db.make_engine(url))
    code = main(
        [
            "frontend", "launch", "--db", url, "--appliance", "backend", "--ami", "ami-1",
            "--instance-type", "t3.micro", "--master", "10.0.0.2:8470",
            "--region", REGION, "--endpoint-url", aws,
        ]
    )  # fmt: skip
    assert code == 2
    assert "refusing plain HTTP" in capsys.readouterr().err
    ec2, _ = clients(aws)
    assert ec2.describe_instances()["Reservations"] == []


def test_launch_with_asg_grows_the_group_and_expects_its_new_instances(
    aws: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import boto3

    url = f"sqlite:///{tmp_path / 'fe.db'}"
    setup.init(db.make_engine(url), tmp_path / "tls")
    ec2, _ = clients(aws)
    autoscaling = boto3.Session(region_name=REGION).client("autoscaling", endpoint_url=aws)
    ami = ec2.register_image(
        Name="shipyard-backend-asg", RootDeviceName="/dev/xvda", VirtualizationType="hvm"
    )["ImageId"]
    ec2.create_launch_template(
        LaunchTemplateName="backend-lt",
        LaunchTemplateData={"ImageId": ami, "InstanceType": "t3.micro"},
    )
    autoscaling.create_auto_scaling_group(
        AutoScalingGroupName="backend",
        LaunchTemplate={"LaunchTemplateName": "backend-lt", "Version": "$Latest"},
        MinSize=0, MaxSize=3, DesiredCapacity=1,
        AvailabilityZones=[f"{REGION}a"],
    )  # fmt: skip
    before = {i["InstanceId"] for i in _group(autoscaling)["Instances"]}

    argv = ["frontend", "launch", "--db", url, "--appliance", "backend", "--asg", "backend",
            "--region", REGION, "--endpoint-url", aws]  # fmt: skip
    assert main([*argv, "--count", "2", "--json"]) == 0
    expected = json.loads(capsys.readouterr().out)
    group = _group(autoscaling)
    assert group["DesiredCapacity"] == 3
    new = {i["InstanceId"] for i in group["Instances"]} - before
    assert {h["instance_id"] for h in expected} == new and len(new) == 2
    assert [h["state"] for h in expected] == ["expected", "expected"]

    # Past the group's MaxSize: one sentence, and the group is left as it was.
    assert main([*argv, "--count", "1"]) == 2
    assert "allows at most 3 instances; it has 3" in capsys.readouterr().err
    assert main([*argv, "--ami", ami]) == 2
    assert "--ami is for RunInstances" in capsys.readouterr().err
    assert _group(autoscaling)["DesiredCapacity"] == 3


def _group(autoscaling: Any) -> Any:
    return autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=["backend"])[
        "AutoScalingGroups"
    ][0]
