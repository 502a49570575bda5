"""`shipyard aws local`: a moto server on loopback as a local AWS endpoint."""

from __future__ import annotations

import argparse
from typing import Any

from shipyard.cli.argtypes import port_number


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("aws", help="helpers for AWS endpoints")
    verbs = parser.add_subparsers(dest="aws_command", metavar="VERB")
    verbs.required = True
    local = verbs.add_parser(
        "local",
        help="run a local EC2/EBS/S3 endpoint (moto) on 127.0.0.1",
        description="Run a moto server on loopback until interrupted; point --endpoint-url at it.",
    )
    local.add_argument(
        "--port", type=port_number, default=5000, help="port to listen on (default 5000)"
    )
    local.set_defaults(func=run_local)


def run_local(args: argparse.Namespace) -> int:
    from shipyard.aws.local import moto_server_argv
    from shipyard.cli.argtypes import ensure_free
    from shipyard.cli.output import stderr_console
    from shipyard.proc import run

    argv = moto_server_argv(args.port)
    ensure_free("127.0.0.1", args.port)
    url = f"http://127.0.0.1:{args.port}"
    console = stderr_console()
    console.print(f"local AWS endpoint on {url} (Ctrl-C stops it)")
    console.print(
        f"try: AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing "
        f"shipyard publish BUILD --to ec2 --region us-east-1 --endpoint-url {url}"
    )
    try:
        run(argv, capture=False, what="the moto server")
    except KeyboardInterrupt:
        return 0
    return 0
