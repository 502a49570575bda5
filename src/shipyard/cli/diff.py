"""``shipyard diff BUILD_A BUILD_B``: what differs between two builds."""

from __future__ import annotations

import argparse
from dataclasses import asdict
from typing import Any

from shipyard.cli.output import add_json_flag, emit_json, print_table, stdout_console


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "diff",
        help="show the packages added, removed and upgraded between two builds, and "
        "whether their disks differ",
        description="Compare two builds' records: packages added, removed, upgraded or "
        "downgraded, the manifest, and each disk format both have by sha256. When the raw "
        "disks differ, say where the first differing byte is: the partition table, or "
        "which partition and, in ext4 or FAT, which file or metadata holds it.",
    )
    parser.add_argument(
        "old", metavar="BUILD_A", help="the earlier build (directory or build.json)"
    )
    parser.add_argument("new", metavar="BUILD_B", help="the later build")
    parser.add_argument(
        "--files",
        action="store_true",
        help="also list the files added, removed and changed in the root filesystem "
        "(extracts both roots to temporary folders)",
    )
    parser.add_argument(
        "--most", type=int, default=20, metavar="N", help="files listed at most (default 20)"
    )
    add_json_flag(parser)
    parser.set_defaults(func=run_diff)


def run_diff(args: argparse.Namespace) -> int:
    from shipyard.build.compare import compare_root_files, diff_builds, locate_difference
    from shipyard.record import find_build, load

    old_dir, new_dir = find_build(args.old), find_build(args.new)
    old, new = load(old_dir), load(new_dir)
    diff = diff_builds(old, new)
    raw = next((d for d in diff.disks if d.format == "raw"), None)
    disks = (old_dir / old.formats["raw"].path, new_dir / new.formats["raw"].path) if raw else None
    where = None
    if raw and not raw.same and disks and all(p.is_file() for p in disks):
        where = locate_difference(*disks)
    files = compare_root_files(*disks) if args.files and disks and where else None
    if args.json:
        emit_json(
            {
                "old": diff.old,
                "new": diff.new,
                "manifest_same": diff.manifest_same,
                "packages": {
                    "added": [asdict(c) for c in diff.added],
                    "removed": [asdict(c) for c in diff.removed],
                    "upgraded": [asdict(c) for c in diff.upgraded],
                    "downgraded": [asdict(c) for c in diff.downgraded],
                },
                "disks": [asdict(d) for d in diff.disks],
                "first_difference": asdict(where) if where else None,
                "files": asdict(files) if files else None,
            }
        )
        return 0
    out = stdout_console()
    out.print(f"{diff.old} → {diff.new}", highlight=False)
    out.print("manifest: " + ("the same" if diff.manifest_same else "differs"))
    if diff.packages_same:
        out.print("packages: the same")
    else:
        rows = [
            *(("added", c.name, "", c.new) for c in diff.added),
            *(("removed", c.name, c.old, "") for c in diff.removed),
            *(("upgraded", c.name, c.old, c.new) for c in diff.upgraded),
            *(("downgraded", c.name, c.old, c.new) for c in diff.downgraded),
        ]
        print_table(("change", "package", diff.old, diff.new), rows, title="packages:")
    for disk in diff.disks:
        state = "identical" if disk.same else "differ"
        out.print(
            f"disk {disk.format}: {state} ({disk.old_sha256[:12]} / {disk.new_sha256[:12]})",
            highlight=False,
        )
    if where:
        out.print(f"first difference at byte {where.offset}:", highlight=False)
        out.print(f"  {diff.old}: {where.old.where}", highlight=False, markup=False)
        if where.new.where != where.old.where:
            out.print(f"  {diff.new}: {where.new.where}", highlight=False, markup=False)
    if files:
        changes: list[tuple[str, str]] = [
            *(("added", p) for p in files.added),
            *(("removed", p) for p in files.removed),
            *((f"changed ({what})", p) for p, what in files.changed),
        ]
        total = len(changes)
        title = f"files: {len(files.added)} added, {len(files.removed)} removed, "
        title += f"{len(files.changed)} changed" + (
            f" (the first {args.most}; --json lists all)" if total > args.most else ""
        )
        print_table(("change", "path"), changes[: args.most], title=title)
    return 0
