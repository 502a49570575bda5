"""`shipyard iam-policy` prints a valid, least-privilege policy."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


def policy(purpose: str) -> dict[str, object]:
    result = subprocess.run(
        [sys.executable, "-m", "shipyard.cli.main", "iam-policy", "--for", purpose],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return dict(json.loads(result.stdout))


def allowed(document: dict[str, object]) -> set[str]:
    statements = document["Statement"]
    assert isinstance(statements, list)
    return {a for s in statements for a in s["Action"]}


@pytest.mark.parametrize("purpose", ["publish", "launch", "catalog", "stacks", "all"])
def test_policy_is_a_valid_document_with_no_wildcard_actions(purpose: str) -> None:
    document = policy(purpose)
    assert document["Version"] == "2012-10-17"
    actions = allowed(document)
    assert actions and all(":" in a and "*" not in a for a in actions)


def test_all_is_the_union_of_publish_launch_catalog_and_stacks() -> None:
    parts = [allowed(policy(p)) for p in ("publish", "launch", "catalog", "stacks")]
    assert allowed(policy("all")) == set().union(*parts)
    assert "ebs:PutSnapshotBlock" in allowed(policy("publish"))
    assert "ec2:RunInstances" not in allowed(policy("publish"))
    catalog = allowed(policy("catalog"))
    assert {"ec2:DescribeLaunchTemplateVersions", "ec2:DeregisterImage"} <= catalog
    assert {"ec2:DeleteSnapshot", "s3:ListBucket", "s3:DeleteObject"} <= catalog


def test_launch_may_grow_an_auto_scaling_group() -> None:
    launch = allowed(policy("launch"))
    assert {"autoscaling:DescribeAutoScalingGroups", "autoscaling:SetDesiredCapacity"} <= launch
