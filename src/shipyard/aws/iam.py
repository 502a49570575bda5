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
    "publish": (PUBLISH_ACTIONS,),
    "launch": (LAUNCH_ACTIONS,),
    "all": (PUBLISH_ACTIONS, LAUNCH_ACTIONS),
}


def actions(purpose: str) -> list[str]:
    """``service:Operation`` names needed for ``purpose``, sorted, each once."""
    found = {
        f"{service}:{operation}"
        for table in PURPOSES[purpose]
        for service, operations in table.items()
        for operation in operations
    }
    return sorted(found)


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
