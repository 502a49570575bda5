"""``shipyard imds serve``: the metadata emulator alone, for developing agents."""

from __future__ import annotations

import argparse
import contextlib
from pathlib import Path
from typing import Any

from shipyard.cli.argtypes import port_or_any, role_name, tag
from shipyard.cli.output import stderr_console


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("imds", help="the EC2 instance metadata emulator")
    verbs = parser.add_subparsers(dest="verb", metavar="VERB")
    verbs.required = True
    serve = verbs.add_parser(
        "serve",
        help="serve IMDSv2 on loopback for one made-up instance",
        description="Serve an IMDSv2 emulator on 127.0.0.1 until interrupted.",
    )
    serve.add_argument("--user-data", type=Path, metavar="FILE")
    serve.add_argument("--ssh-key", type=Path, metavar="PUBKEY_FILE")
    serve.add_argument(
        "--tag", action="append", default=[], type=tag, metavar="KEY=VALUE",
        help="an instance tag, served under meta-data/tags/instance/; repeatable",
    )  # fmt: skip
    serve.add_argument(
        "--iam-role", type=role_name, metavar="NAME",
        help="serve made-up credentials for this role under meta-data/iam/",
    )  # fmt: skip
    serve.add_argument("--port", type=port_or_any, default=0, help="default: any free port")
    serve.add_argument(
        "--allow-v1", action="store_true", help="answer requests without a token (IMDSv1)"
    )
    serve.set_defaults(func=serve_imds)


def serve_imds(args: argparse.Namespace) -> int:
    from shipyard.cleanup import signals_as_interrupts, wait_for_signal
    from shipyard.errors import Interrupted
    from shipyard.vm.identity import load_signer
    from shipyard.vm.imds import ImdsBehaviour, serve
    from shipyard.vm.launch import read_ssh_key, read_user_data
    from shipyard.vm.metadata import Instance

    instance = Instance(
        user_data=read_user_data(args.user_data),
        public_keys=read_ssh_key(args.ssh_key),
        tags=tuple(args.tag),
        iam_role=args.iam_role,
    )
    signer = load_signer()
    console = stderr_console()
    settings = ImdsBehaviour(require_token=not args.allow_v1)
    with serve(instance, signer, port=args.port, settings=settings) as server:
        console.print(
            f"serving instance {instance.instance_id} on {server.url}", markup=False, soft_wrap=True
        )
        console.print(
            f"identity certificate: {signer.certificate_path}", markup=False, soft_wrap=True
        )
        console.print(
            f"try: TOKEN=$(curl -s -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 60' "
            f'{server.url}/latest/api/token); curl -H "X-aws-ec2-metadata-token: $TOKEN" '
            f"{server.url}/latest/meta-data/",
            markup=False,
            soft_wrap=True,
        )
        with contextlib.suppress(KeyboardInterrupt, Interrupted), signals_as_interrupts():
            wait_for_signal()
    return 0
