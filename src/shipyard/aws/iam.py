"""Least-privilege IAM policies for what Shipyard's AWS commands call."""

from __future__ import annotations

from typing import Any

# Every API operation `shipyard publish --to ec2` may make, by service.
PUBLISH_ACTIONS: dict[str, tuple[str, ...]] = {
    "ebs": ("StartSnapshot", "PutSnapshotBlock", "CompleteSnapshot"),
    "ec2": (
        "DescribeSnapshots",
        "DeleteSnapshot",
        "DescribeImages",
        "RegisterImage",
        "DeregisterImage",
        "CopyImage",
        "CreateTags",
        "ModifyImageAttribute",
        "EnableImageDeprecation",
    ),
}

# What `shipyard publish --to ec2 --backing s3` calls besides, as API operations.
BUNDLE_ACTIONS: dict[str, tuple[str, ...]] = {
    "s3": (
        "HeadBucket",
        "GetBucketLocation",
        "GetBucketOwnershipControls",
        "ListObjectsV2",
        "GetObject",
        "PutObject",
        "DeleteObject",
    ),
    "ec2": ("DescribeImages", "RegisterImage", "DeregisterImage", "CreateTags"),
}

# API operations whose IAM actions are named otherwise, or need a second one: a canned
# ACL on PutObject is a PutObjectAcl too.
IAM_NAMES: dict[tuple[str, str], tuple[str, ...]] = {
    ("s3", "HeadBucket"): ("ListBucket",),
    ("s3", "ListObjectsV2"): ("ListBucket",),
    ("s3", "PutObject"): ("PutObject", "PutObjectAcl"),
}

# What launching instances from a published AMI calls.
LAUNCH_ACTIONS: dict[str, tuple[str, ...]] = {
    "ec2": (
        "DescribeImages",
        "RunInstances",
        "CreateTags",
        "DescribeInstances",
        "GetConsoleOutput",
        "TerminateInstances",
    ),
}

PURPOSES: dict[str, tuple[dict[str, tuple[str, ...]], ...]] = {
    "publish": (PUBLISH_ACTIONS, BUNDLE_ACTIONS),
    "launch": (LAUNCH_ACTIONS,),
    "all": (PUBLISH_ACTIONS, BUNDLE_ACTIONS, LAUNCH_ACTIONS),
}


def iam_actions(service: str, operation: str) -> tuple[str, ...]:
    """``service:Action`` names IAM checks for one API operation."""
    return tuple(f"{service}:{a}" for a in IAM_NAMES.get((service, operation), (operation,)))


def table_actions(table: dict[str, tuple[str, ...]]) -> set[str]:
    """The IAM actions one table of API operations needs."""
    return {a for service, ops in table.items() for op in ops for a in iam_actions(service, op)}


def actions(purpose: str) -> list[str]:
    """``service:Operation`` names needed for ``purpose``, sorted, each once."""
    return sorted(set().union(*(table_actions(table) for table in PURPOSES[purpose])))


def policy(purpose: str = "publish") -> dict[str, Any]:
    """The IAM policy document for ``purpose`` (publish, launch or all)."""
    by_service: dict[str, list[str]] = {}
    for action in actions(purpose):
        by_service.setdefault(action.split(":")[0], []).append(action)
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": f"Shipyard{purpose.capitalize()}{service.upper()}",
                "Effect": "Allow",
                "Action": names,
                # Describe calls and snapshot/AMI ids unknown in advance leave no narrower scope.
                "Resource": "*",
            }
            for service, names in sorted(by_service.items())
        ],
    }
