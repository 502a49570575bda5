"""`shipyard publish BUILD --to TARGET`: publish a finished build (an AMI, a catalog)."""

from __future__ import annotations

import argparse
from typing import Any

from shipyard.cli.output import add_json_flag


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "publish",
        help="publish a build as an EC2 AMI (or to a catalog)",
        description="Publish a build directory. With --to ec2 the last line printed is the AMI id; "
        "--to ec2,catalog publishes the AMI, then catalogues the build with it.",
    )
    parser.add_argument("build", metavar="BUILD", help="build directory or its build.json")
    parser.add_argument(
        "--to",
        required=True,
        type=_target_names,
        metavar="TARGET[,TARGET]",
        help="ec2, catalog, or both in that order: ec2,catalog",
    )
    ec2 = parser.add_argument_group("ec2")
    ec2.add_argument("--region", help="region to upload to (default: from the AWS config)")
    ec2.add_argument(
        "--copy-to", action="append", default=[], metavar="R2,R3", help="copy to these regions"
    )
    ec2.add_argument("--name", help="AMI name (default: the build's name)")
    ec2.add_argument("--description", help="AMI description")
    who = ec2.add_mutually_exclusive_group()
    who.add_argument("--public", action="store_true", help="let everyone launch it")
    who.add_argument(
        "--share-with",
        nargs="+",
        action="extend",
        default=[],
        metavar="ACCOUNT",
        help="let these AWS accounts launch it",
    )
    ec2.add_argument(
        "--tag", action="append", default=[], metavar="K=V", help="tag the AMI and snapshot"
    )
    ec2.add_argument("--boot-mode", choices=("legacy-bios", "uefi", "uefi-preferred"))
    ec2.add_argument("--deprecate-in", type=int, metavar="DAYS", help="deprecate after DAYS")
    ec2.add_argument(
        "--force",
        action="store_true",
        help="replace an AMI of the same name that this build did not make",
    )
    ec2.add_argument(
        "--keep-on-failure", action="store_true", help="keep what was created if publishing fails"
    )
    ec2.add_argument(
        "--backing",
        choices=("ebs", "s3"),
        default="ebs",
        help="ebs (default) or s3: an instance-store AMI bundled into --bucket",
    )
    s3 = parser.add_argument_group("ec2 --backing s3 (instance-store AMIs)")
    s3.add_argument("--bucket", help="S3 bucket for the bundle, in the AMI's region, ACLs on")
    s3.add_argument("--prefix", default="", help="key prefix for the bundle in the bucket")
    s3.add_argument("--user-cert", metavar="PEM", help="your X.509 certificate ($AWS_CERTIFICATE)")
    s3.add_argument("--user-key", metavar="PEM", help="its private key ($AWS_PRIVATE_KEY)")
    s3.add_argument("--account-id", metavar="N", help="your AWS account id ($AWS_USER_ID)")
    ec2.add_argument("--endpoint-url", help="AWS endpoint, e.g. a local `shipyard aws local`")
    ec2.add_argument("--profile", help="AWS profile")
    ec2.add_argument(
        "--concurrency", type=int, default=16, metavar="N", help="blocks sent at once (16)"
    )
    catalog = parser.add_argument_group("catalog")
    catalog.add_argument("--store", help="catalog store (directory or s3:// URL)")
    catalog.add_argument("--channel", choices=("daily", "stable"), default="daily")
    add_json_flag(parser)
    parser.set_defaults(func=run)


TARGET_NAMES = ("ec2", "catalog")


def _target_names(text: str) -> tuple[str, ...]:
    """``ec2``, ``catalog`` or a comma-separated list of them, each once."""
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    unknown = [n for n in names if n not in TARGET_NAMES]
    if not names or unknown:
        raise argparse.ArgumentTypeError(
            f"{text!r}: expected {' or '.join(TARGET_NAMES)}, or both separated by a comma"
        )
    if len(set(names)) != len(names):
        raise argparse.ArgumentTypeError(f"{text!r} names a target twice")
    return names


def _tags(pairs: list[str]) -> dict[str, str]:
    from shipyard.errors import UsageError

    tags: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"--tag {pair!r}: expected KEY=VALUE")
        tags[key] = value
    return tags


def ec2_target(args: argparse.Namespace) -> Any:
    """The Ec2Target the command line describes."""
    from pydantic import ValidationError

    from shipyard.errors import UsageError
    from shipyard.manifest.schema import Ec2Target

    if args.backing == "s3" and not args.bucket:
        raise UsageError("--backing s3 needs --bucket")
    regions = [r.strip() for item in args.copy_to for r in item.split(",") if r.strip()]
    try:
        return Ec2Target(
            to="ec2",
            region=args.region,
            copy_to=tuple(regions),
            name=args.name,
            description=args.description,
            public=args.public,
            share_with=tuple(args.share_with),
            tags=_tags(args.tag),
            boot_mode=args.boot_mode,
            deprecate_in=args.deprecate_in,
            endpoint_url=args.endpoint_url,
            profile=args.profile,
            force=args.force,
            keep_on_failure=args.keep_on_failure,
            backing=args.backing,
            bucket=args.bucket,
            prefix=args.prefix,
            user_cert=args.user_cert,
            user_key=args.user_key,
            account_id=args.account_id,
        )
    except ValidationError as exc:
        from shipyard.validation_text import problem_text

        first = exc.errors()[0]
        where = "--" + "-".join(str(p) for p in first["loc"][:1]).replace("_", "-")
        raise UsageError(f"{where}: {problem_text(first)}") from exc


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from shipyard.cli.output import emit_json
    from shipyard.errors import UsageError
    from shipyard.manifest.schema import CatalogTarget
    from shipyard.publish import ec2, publish_targets

    if args.concurrency < 1:
        raise UsageError("--concurrency must be at least 1")
    build = Path(args.build)
    results: list[Any] = []
    for name in args.to:
        if name == "ec2":
            results.append(ec2.publish(build, ec2_target(args), concurrency=args.concurrency))
        else:
            target = CatalogTarget(to="catalog", store=args.store, channel=args.channel)
            results.extend(publish_targets(build, [target]))
    if args.json:
        documents = [r.model_dump(mode="json") for r in results]
        emit_json(documents[0] if len(documents) == 1 else documents)
        return 0
    _print(results)
    return 0


def _print(results: list[Any]) -> None:
    """Each target's result; an AMI id, if one was made, is the last line."""
    from shipyard.cli.output import stderr_console, stdout_console
    from shipyard.record_sections import EbsPublishEntry, S3PublishEntry

    out = stdout_console()
    image_id = None
    for result in results:
        if isinstance(result, S3PublishEntry):
            from shipyard.publish.s3_bundle import LIMITS

            stderr_console().print(f"note: {LIMITS}")
            out.print(f"{result.region}: {result.image_id} (from s3://{result.image_location})")
            image_id = result.image_id
        elif isinstance(result, EbsPublishEntry):
            for region, image in result.images.items():
                out.print(f"{region}: {image.image_id} (snapshot {image.snapshot_id})")
            image_id = result.image_id
        else:
            for key, value in result.model_dump(mode="json").items():
                out.print(f"{key}: {value}")
    if image_id:
        out.print(image_id)
