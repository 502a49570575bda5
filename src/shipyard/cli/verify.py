"""``shipyard verify BUILD|FILE``: do a build's files match its record and provenance?"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from shipyard.cli.output import add_json_flag, emit_json, stdout_console


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "verify",
        help="check a build's disks, bill of materials and provenance against build.json",
        description="Check every disk format's size and sha256, the bill of materials' sha256 "
        "and the provenance (its subjects, manifest digest and signature) against build.json. "
        "Given one disk file, check only that file. Exit code 1 names the first thing that "
        "differs.",
    )
    parser.add_argument(
        "target", metavar="BUILD|FILE", help="a build directory, its build.json, or a disk file"
    )
    parser.add_argument(
        "--keyring",
        type=Path,
        help="GnuPG home or public key file trusted to sign the provenance "
        "(default: $SHIPYARD_CATALOG_GNUPGHOME or the user's data directory)",
    )
    add_json_flag(parser)
    parser.set_defaults(func=run_verify)


def run_verify(args: argparse.Namespace) -> int:
    from shipyard.build.verify import verify_build

    verified = verify_build(args.target, args.keyring)
    if args.json:
        emit_json({"build": verified.record.id, "ok": True, "checked": list(verified.checked)})
        return 0
    out = stdout_console()
    for line in verified.checked:
        out.print(f"[green]✓[/green] {line}", highlight=False)
    out.print(f"build {verified.record.id}: everything matches its record")
    return 0
