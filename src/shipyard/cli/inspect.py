"""``shipyard inspect BUILD``: what a build holds."""

from __future__ import annotations

import argparse
import os
from typing import Any

from shipyard.cli.output import add_json_flag, emit_json, stdout_console


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "inspect",
        help="show a build: partitions, boot modes, formats, packages, stage timings",
    )
    parser.add_argument("build", metavar="BUILD", help="a build directory or its build.json")
    add_json_flag(parser)
    parser.set_defaults(func=run_inspect)


def run_inspect(args: argparse.Namespace) -> int:
    from rich.table import Table

    from shipyard.manifest.sizes import format_size
    from shipyard.record import dump, find_build, load

    build_dir = find_build(args.build)
    record = load(build_dir)
    status = record.status
    pid = getattr(record, "pid", None)
    if status == "building" and isinstance(pid, int) and not _alive(pid):
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
        table = Table(title=f"Partitions (GPT, {format_size(record.disk_size)})")
        for col in ("#", "name", "start", "size", "filesystem", "uuid", "label"):
            table.add_column(col)
        for p in record.partitions:
            table.add_row(
                str(p.number),
                p.name,
                format_size(p.start),
                format_size(p.size),
                p.filesystem or "",
                p.fs_uuid or p.uuid,
                p.label or "",
            )
        out.print(table)
    if record.formats:
        table = Table(title="Formats")
        for col in ("format", "file", "size", "allocated"):
            table.add_column(col)
        for a in record.formats.values():
            table.add_row(a.format, a.path, format_size(a.size), format_size(a.allocated))
        out.print(table)
        # Checksums on lines of their own, whole, so they can be copied at any width.
        for a in record.formats.values():
            out.print(f"sha256 {a.path}: {a.sha256}", soft_wrap=True)
    if record.stages:
        table = Table(title="Stages")
        table.add_column("stage")
        table.add_column("seconds", justify="right")
        table.add_column("")
        for name, t in record.stages.items():
            table.add_row(name, f"{t.seconds:.1f}", "cached" if t.cached else "")
        table.add_row("total", f"{sum(t.seconds for t in record.stages.values()):.1f}", "")
        out.print(table)
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
