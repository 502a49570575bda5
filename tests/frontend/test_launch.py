"""`frontend launch` against a moto server: instances with join user data, expected hosts."""

from __future__ import annotations

import base64
import json
from pathlib import Path

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


def test_launch_refuses_a_hostname_master(
    aws: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'fe.db'}"
    setup.init(db.make_engine(url))
    code = main(
        [
            "frontend", "launch", "--db", url, "--appliance", "backend", "--ami", "ami-1",
            "--instance-type", "t3.micro", "--master", "frontend.example.com",
            "--region", REGION, "--endpoint-url", aws,
        ]
    )  # fmt: skip
    assert code == 2
    assert "is not an IP address" in capsys.readouterr().err
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
