"""Least-privilege IAM policies for what Shipyard's AWS commands call."""

from __future__ import annotations

from collections.abc import Mapping
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
        "PutObjectAcl",  # the parts' canned ACL: a PutObject with ACL is checked for both
        "DeleteObject",
    ),
    "ec2": ("DescribeImages", "RegisterImage", "DeregisterImage", "CreateTags"),
}

# What `shipyard catalog` calls: prune asks EC2 which AMIs are in use and removes the
# others with their snapshots; a store in S3 is read, written (large files in parts,
# aborted on failure) and pruned.
CATALOG_ACTIONS: dict[str, tuple[str, ...]] = {
    "ec2": (
        "DescribeInstances",
        "DescribeLaunchTemplates",
        "DescribeLaunchTemplateVersions",
        "DescribeImages",
        "DeregisterImage",
        "DeleteSnapshot",
    ),
    "s3": (
        "HeadBucket",
        "ListObjectsV2",
        "HeadObject",
        "GetObject",
        "PutObject",
        "CreateMultipartUpload",
        "UploadPart",
        "CompleteMultipartUpload",
        "AbortMultipartUpload",
        "DeleteObject",
    ),
}

# API operations whose IAM actions are named otherwise.
IAM_NAMES: dict[tuple[str, str], tuple[str, ...]] = {
    ("s3", "HeadBucket"): ("ListBucket",),
    ("s3", "ListObjectsV2"): ("ListBucket",),
    ("s3", "HeadObject"): ("GetObject",),
    ("s3", "CreateMultipartUpload"): ("PutObject",),
    ("s3", "UploadPart"): ("PutObject",),
    ("s3", "CompleteMultipartUpload"): ("PutObject",),
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
    # `frontend launch --asg`: grow an appliance's auto-scaling group instead.
    "autoscaling": ("DescribeAutoScalingGroups", "SetDesiredCapacity"),
}

# What `shipyard stacks` calls: CloudFormation, and S3 for artifacts. The resources of a
# template are made with the caller's rights (or a service role), so they come on top.
STACKS_ACTIONS: dict[str, tuple[str, ...]] = {
    "cloudformation": (
        "DescribeStacks",
        "CreateChangeSet",
        "DescribeChangeSet",
        "DeleteChangeSet",
        "ExecuteChangeSet",
        "DescribeStackEvents",
        "ListStackResources",
        "GetTemplate",
        "DeleteStack",
    ),
    "s3": ("HeadObject", "PutObject"),
}

PURPOSES: dict[str, tuple[dict[str, tuple[str, ...]], ...]] = {
    "publish": (PUBLISH_ACTIONS, BUNDLE_ACTIONS),
    "launch": (LAUNCH_ACTIONS,),
    "catalog": (CATALOG_ACTIONS,),
    "stacks": (STACKS_ACTIONS,),
    "all": (PUBLISH_ACTIONS, BUNDLE_ACTIONS, LAUNCH_ACTIONS, CATALOG_ACTIONS, STACKS_ACTIONS),
}


def iam_actions(
    service: str, operation: str, params: Mapping[str, Any] | None = None
) -> tuple[str, ...]:
    """``service:Action`` names IAM checks for one API operation made with ``params``."""
    names = IAM_NAMES.get((service, operation), (operation,))
    if (service, operation) == ("s3", "PutObject") and params and "ACL" in params:
        names = (*names, "PutObjectAcl")
    return tuple(f"{service}:{a}" for a in names)


def table_actions(table: dict[str, tuple[str, ...]]) -> set[str]:
    """The IAM actions one table of API operations needs."""
    return {a for service, ops in table.items() for op in ops for a in iam_actions(service, op)}


def actions(purpose: str) -> list[str]:
    """``service:Operation`` names needed for ``purpose``, sorted, each once."""
    return sorted(set().union(*(table_actions(table) for table in PURPOSES[purpose])))


def policy(purpose: str = "publish") -> dict[str, Any]:
    """The IAM policy document for ``purpose`` (publish, launch, catalog, stacks or all)."""
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
