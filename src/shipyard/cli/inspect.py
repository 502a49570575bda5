"""``shipyard inspect BUILD``: what a build holds."""

from __future__ import annotations

import argparse
import os
from typing import Any

from shipyard.cli.output import add_json_flag, emit_json, print_table, stdout_console


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "inspect",
        help="show a build: partitions, boot modes, formats, packages, stage timings",
    )
    parser.add_argument("build", metavar="BUILD", help="a build directory or its build.json")
    add_json_flag(parser)
    parser.set_defaults(func=run_inspect)


def run_inspect(args: argparse.Namespace) -> int:

    from shipyard.manifest.sizes import format_size
    from shipyard.record import dump, find_build, load

    build_dir = find_build(args.build)
    record = load(build_dir)
    status = record.status
    if status == "building" and record.pid is not None and not _alive(record.pid):
        status = "interrupted"
    if args.json:
        emit_json({**dump(record), "status": status})
        return 0

    out = stdout_console()
    out.print(f"[bold]{record.name}[/bold]  ({record.id}, {status})")
    out.print(
        f"Debian {record.release} {record.architecture}, flavour {record.flavour}, "
        f"agent {record.agent}, boot: {', '.join(record.boot_modes)}, kernel {record.kernel}"
    )
    if record.error:
        out.print(f"[red]error:[/red] {record.error}")
    if record.partitions:
        print_table(
            ("#", "name", "start", "size", "filesystem", "uuid", "label"),
            (
                (
                    p.number,
                    p.name,
                    format_size(p.start),
                    format_size(p.size),
                    p.filesystem or "",
                    p.fs_uuid or p.uuid,
                    p.label or "",
                )
                for p in record.partitions
            ),
            title=f"\nPartitions (GPT, {format_size(record.disk_size)})",
        )
    if record.formats:
        # Checksums whole in a column of their own, so they can be copied at any width.
        print_table(
            ("format", "file", "size", "allocated", "sha256"),
            (
                (a.format, a.path, format_size(a.size), format_size(a.allocated), a.sha256)
                for a in record.formats.values()
            ),
            title="\nFormats",
        )
    if record.stages:
        total = sum(t.seconds for t in record.stages.values())
        print_table(
            ("stage", "seconds", "cached"),
            [
                *((name, f"{t.seconds:.1f}", "yes" if t.cached else "") for name, t in
                  record.stages.items()),
                ("total", f"{total:.1f}", ""),
            ],
            title="\nStages",
        )  # fmt: skip
    out.print(f"{len(record.packages)} packages installed")
    return 0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
