"""``shipyard run BUILD``: boot a build locally as an EC2 instance would start."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from shipyard.cli.output import add_json_flag, emit_json, stderr_console


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "run",
        help="boot a build under qemu with an EC2-like metadata service",
        description="Boot BUILD (a build directory or its build.json) on a copy-on-write "
        "overlay, with an IMDSv2 emulator at 169.254.169.254 and SSH on a local port.",
    )
    parser.add_argument("build", metavar="BUILD", help="build directory or build.json")
    parser.add_argument("--user-data", type=Path, metavar="FILE", help="the instance's user data")
    parser.add_argument(
        "--ssh-key", type=Path, metavar="PUBKEY_FILE", help="public key offered as the key pair"
    )
    parser.add_argument("--firmware", choices=("uefi", "bios"), help="default: uefi if built")
    parser.add_argument("--memory", type=int, default=1024, metavar="MiB", help="default 1024")
    parser.add_argument("--cpus", type=int, default=2, metavar="N", help="default 2")
    parser.add_argument(
        "--disk-size",
        metavar="SIZE",
        help="grow the instance's disk, e.g. 4GiB (the build is untouched)",
    )
    parser.add_argument(
        "--wait-ready", action="store_true", help="wait for the agent's ready report, then stop"
    )
    parser.add_argument(
        "--timeout", type=float, default=300.0, metavar="S", help="for --wait-ready (default 300)"
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the VM running after ready, and its disk after"
    )
    parser.add_argument("--accel", choices=("kvm", "tcg"), help="default: KVM when it works")
    add_json_flag(parser)
    parser.set_defaults(func=run_vm)


def run_vm(args: argparse.Namespace) -> int:
    from shipyard.cleanup import signals_as_interrupts
    from shipyard.errors import UsageError
    from shipyard.manifest.sizes import parse_size
    from shipyard.vm.launch import RunRequest, launch

    try:
        disk_size = parse_size(args.disk_size) if args.disk_size else None
    except ValueError as exc:
        raise UsageError(f"--disk-size {args.disk_size}: {exc}") from exc
    request = RunRequest(
        build=args.build,
        user_data=args.user_data,
        ssh_key=args.ssh_key,
        firmware=args.firmware,
        memory=args.memory,
        cpus=args.cpus,
        disk_size=disk_size,
        wait_ready=args.wait_ready,
        timeout=args.timeout,
        keep=args.keep,
        accel=args.accel,
    )
    console = stderr_console()
    with signals_as_interrupts():
        result = launch(request, lambda text: console.print(text, markup=False, soft_wrap=True))
    if args.json:
        emit_json(result.as_json())
    return 0
