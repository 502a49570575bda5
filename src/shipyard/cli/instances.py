"""`shipyard ps`, `shipyard stop ID`, `shipyard ssh ID`: VMs started with `run --detach`."""

from __future__ import annotations

import argparse
from typing import Any

from shipyard.cli.output import add_json_flag, emit_json, print_table


def register(subparsers: Any) -> None:
    ps = subparsers.add_parser(
        "ps",
        help="list the VMs started with `run --detach`",
        description="List the VMs started with `shipyard run --detach` that are still running.",
    )
    add_json_flag(ps)
    ps.set_defaults(func=cmd_ps)

    stop = subparsers.add_parser(
        "stop",
        help="power off VMs started with `run --detach`",
        description="Power the guest off and remove its overlay (unless it ran with --keep).",
    )
    stop.add_argument("ids", nargs="*", metavar="ID", help="instance ids (a unique prefix will do)")
    stop.add_argument("--all", action="store_true", help="every running instance")
    stop.set_defaults(func=cmd_stop)

    ssh = subparsers.add_parser(
        "ssh",
        help="ssh into a VM started with `run --detach`",
        description="Run ssh to the instance's forwarded port as the image's user; the words "
        "after ID are the remote command.",
    )
    ssh.add_argument("id", metavar="ID", help="instance id (a unique prefix will do)")
    ssh.add_argument("-i", dest="identity", metavar="KEY", help="private key for ssh")
    ssh.add_argument("command", nargs=argparse.REMAINDER, help="command to run instead of a shell")
    ssh.set_defaults(func=cmd_ssh)


def cmd_ps(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from shipyard.vm import instances

    found = instances.running()
    if args.json:
        emit_json([asdict(s) for s in found])
        return 0
    print_table(
        ("instance", "image", "state", "ssh", "ports", "pid"),
        (
            (
                s.instance_id,
                s.image,
                s.state,
                f"127.0.0.1:{s.ssh_port}",
                " ".join(f"{f.host_port}->{f.guest_port}" for f in s.forwards),
                s.pid,
            )
            for s in found
        ),
    )
    return 0


def cmd_stop(args: argparse.Namespace) -> int:
    from shipyard.errors import UsageError
    from shipyard.vm import instances

    if args.all == bool(args.ids):
        raise UsageError("name the instances to stop, or give --all")
    chosen = instances.running() if args.all else [instances.find(i) for i in args.ids]
    for state in chosen:
        instances.stop(state)
        print(state.instance_id)
    return 0


def cmd_ssh(args: argparse.Namespace) -> int:
    import os
    import shlex

    from shipyard import proc
    from shipyard.errors import VMError
    from shipyard.vm import instances

    state = instances.find(args.id)
    argv = shlex.split(state.ssh)
    if args.identity:
        argv[1:1] = ["-i", args.identity]
    command = [w for w in args.command if w != "--"] if args.command else []
    ssh = proc.which("ssh")
    if ssh is None:
        raise VMError("ssh is not installed (Debian's openssh-client package)")
    os.execv(ssh, [ssh, *argv[1:], *command])
