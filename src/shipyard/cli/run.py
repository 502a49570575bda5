"""``shipyard run BUILD``: boot a build locally as an EC2 instance would start."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from shipyard.cli.argtypes import forward, role_name, tag
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
    parser.add_argument(
        "--forward",
        action="append",
        default=[],
        type=forward,
        metavar="[HOST:]GUEST",
        help="reach a guest TCP port at 127.0.0.1:HOST (any free port when HOST is left out); "
        "repeatable. Other VMs reach it at 10.0.2.2:HOST",
    )
    parser.add_argument(
        "--tag",
        action="append",
        default=[],
        type=tag,
        metavar="KEY=VALUE",
        help="an instance tag, served under meta-data/tags/instance/; repeatable",
    )
    parser.add_argument(
        "--iam-role",
        type=role_name,
        metavar="NAME",
        help="an instance profile role: made-up credentials under meta-data/iam/ "
        "(enough for a local moto server)",
    )
    parser.add_argument(
        "--detach",
        action="store_true",
        help="start the VM in the background and return its instance id (after ready with "
        "--wait-ready); see `shipyard ps`, `shipyard ssh ID`, `shipyard stop ID`",
    )
    parser.add_argument("--detached-child", action="store_true", help=argparse.SUPPRESS)
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
    if args.detach:
        return _detach(args)
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
        forwards=_forwards(args.forward),
        tags=tuple(args.tag),
        iam_role=args.iam_role,
        detach=args.detached_child,
    )
    console = stderr_console()
    with signals_as_interrupts():
        result = launch(request, lambda text: console.print(text, markup=False, soft_wrap=True))
    if args.json:
        emit_json(result.model_dump(mode="json"))
    return 0


def _forwards(pairs: list[tuple[int, int]]) -> tuple[Any, ...]:
    """Host ports chosen now (a free one where none was named), each checked free."""
    from shipyard.cli.argtypes import ensure_free
    from shipyard.errors import UsageError
    from shipyard.vm.instances import Forward
    from shipyard.vm.net import free_port

    chosen: list[Forward] = []
    for host, guest in pairs:
        if host:
            ensure_free("127.0.0.1", host)
        chosen.append(Forward(host_port=host or free_port(), guest_port=guest))
    if len({f.host_port for f in chosen}) != len(chosen):
        raise UsageError("--forward names the same host port twice")
    return tuple(chosen)


def _child_argv(args: argparse.Namespace) -> list[str]:
    """The same run, for the background process that keeps the VM and its IMDS alive."""
    argv = ["run", str(Path(args.build).resolve()), "--detached-child"]
    for flag, value in (
        ("--user-data", args.user_data and args.user_data.resolve()),
        ("--ssh-key", args.ssh_key and args.ssh_key.resolve()),
        ("--firmware", args.firmware),
        ("--memory", args.memory),
        ("--cpus", args.cpus),
        ("--disk-size", args.disk_size),
        ("--timeout", args.timeout),
        ("--accel", args.accel),
        ("--iam-role", args.iam_role),
    ):
        if value is not None:
            argv += [flag, str(value)]
    for host, guest in args.forward:
        argv += ["--forward", f"{host}:{guest}" if host else str(guest)]
    for key, value in args.tag:
        argv += ["--tag", f"{key}={value}"]
    argv += [f for f, on in (("--wait-ready", args.wait_ready), ("--keep", args.keep)) if on]
    return argv


def _detach(args: argparse.Namespace) -> int:
    """Start `run` in a session of its own and return once its VM is up (or ready)."""
    import os
    import sys
    import tempfile
    import time

    from shipyard import proc
    from shipyard.errors import VMError
    from shipyard.vm import instances

    folder = instances.state_dir()
    folder.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix="run-", suffix=".log", dir=folder)
    os.close(fd)
    log = Path(name)
    child = proc.start(
        [sys.executable, "-m", "shipyard.cli.main", *_child_argv(args)],
        output=log,
        error=VMError,
        what="start the background run",
        new_session=True,
        die_with_parent=False,
    )
    try:
        # Booting takes seconds; --wait-ready adds the agent's time, bounded by --timeout.
        deadline = time.monotonic() + 120 + (args.timeout if args.wait_ready else 0)
        while time.monotonic() < deadline:
            state = next((s for s in instances.running() if s.pid == child.pid), None)
            if state is not None and (not args.wait_ready or state.state == "ready"):
                _announce(state, args.json)
                return 0
            if child.poll() is not None:
                return _relay_failure(log, child.returncode)
            time.sleep(0.2)
        raise VMError("the background run did not start its VM in time", hint=f"see {log}")
    except BaseException:
        if child.poll() is None:
            child.terminate()  # it powers the guest off and removes what it made
            child.wait(timeout=60)
        raise
    finally:
        log.unlink(missing_ok=True)


def _announce(state: Any, as_json: bool) -> None:
    from dataclasses import asdict

    if as_json:
        emit_json(asdict(state))
        return
    console = stderr_console()
    console.print(f"ssh: {state.ssh}", markup=False, soft_wrap=True)
    for f in state.forwards:
        console.print(f"port: 127.0.0.1:{f.host_port} → guest port {f.guest_port}", markup=False)
    print(state.instance_id)


def _relay_failure(log: Path, code: int) -> int:
    """The background run ended before its VM was up: show its error lines, keep its code."""
    import sys

    lines = log.read_text(errors="replace").splitlines()
    errors = [line for line in lines if line.startswith("shipyard:")] or lines[-5:]
    for line in errors:
        print(line, file=sys.stderr)
    return code or 1
