"""`shipyard bundle unbundle`: check an EC2 bundle and write its disk image back."""

from __future__ import annotations

import argparse
from typing import Any

from shipyard.cli.output import add_json_flag


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "bundle",
        help="EC2 instance-store bundles (S3-backed AMIs)",
        description="Work with EC2 bundles (manifest version 2007-10-10).",
    )
    verbs = parser.add_subparsers(dest="verb", metavar="VERB")
    verbs.required = True
    unbundle = verbs.add_parser(
        "unbundle",
        help="verify a bundle and write its disk image",
        description=(
            "Verify a bundle's signature and every part's digest, decrypt it and write the "
            "disk image (sparse). MANIFEST is s3://BUCKET/KEY.manifest.xml, a local manifest "
            "file, or a folder holding one with its parts."
        ),
    )
    unbundle.add_argument("manifest", metavar="MANIFEST")
    unbundle.add_argument("-o", "--output", required=True, metavar="DISK", help="image to write")
    unbundle.add_argument(
        "--user-key", required=True, metavar="KEY", help="the private key the bundle was made for"
    )
    unbundle.add_argument("--region", help="AWS region (for s3:// sources)")
    unbundle.add_argument("--endpoint-url", help="AWS endpoint, e.g. a local `shipyard aws local`")
    unbundle.add_argument("--profile", help="AWS profile")
    add_json_flag(unbundle)
    unbundle.set_defaults(func=run_unbundle)


def run_unbundle(args: argparse.Namespace) -> int:
    from dataclasses import asdict
    from pathlib import Path

    from shipyard.aws.session import AwsSettings
    from shipyard.cli.output import emit_json, stdout_console
    from shipyard.publish.unbundle import unbundle

    settings = AwsSettings(region=args.region, profile=args.profile, endpoint_url=args.endpoint_url)
    result = unbundle(args.manifest, Path(args.output), Path(args.user_key), settings)
    if args.json:
        emit_json(asdict(result))
        return 0
    out = stdout_console()
    out.print(
        f"{result.name}: signature and {result.parts} parts verified; "
        f"{result.size} bytes written to {result.output}"
    )
    return 0
