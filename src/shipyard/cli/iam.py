"""`shipyard iam-policy`: print the least-privilege IAM policy for Shipyard's AWS calls."""

from __future__ import annotations

import argparse
import json
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "iam-policy",
        help="print the least-privilege IAM policy for publishing, launching, the catalog "
        "or stacks",
        description="Print the IAM policy (JSON) that allows exactly what Shipyard calls.",
    )
    parser.add_argument(
        "--for",
        dest="purpose",
        choices=("publish", "launch", "catalog", "stacks", "all"),
        default="publish",
        help="which commands the policy is for: publish, launch, catalog (prune, and a "
        "store in S3), stacks (deploys) or all of them (default: publish)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from shipyard.aws.iam import policy

    print(json.dumps(policy(args.purpose), indent=2))
    return 0
