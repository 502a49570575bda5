"""Where output goes: progress and logs to stderr, results (and --json) to stdout."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from typing import Any

from shipyard.console import stderr_console, stdout_console

__all__ = [
    "add_json_flag",
    "emit_json",
    "print_table",
    "stderr_console",
    "stdout_console",
    "table_text",
]


def emit_json(document: Any) -> None:
    """Print one JSON document on stdout."""
    json.dump(document, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")
    sys.stdout.flush()


def table_text(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """Left-aligned columns under upper-case headers, never wrapped or cut: output is for grep.

    The one table style of the CLI (as Stacki, kubectl and docker print them). The header is
    printed for an empty table too, so a script can tell "nothing" from "no output".
    """
    header = [h.upper() for h in headers]
    cells = [["" if v is None else str(v) for v in row] for row in rows]
    widths = [max(len(c) for c in col) for col in zip(header, *cells, strict=False)]
    lines = [
        " ".join(c.ljust(w) for c, w in zip(line, widths, strict=False)).rstrip()
        for line in [header, *cells]
    ]
    return "\n".join(lines) + "\n"


def print_table(
    headers: Sequence[str],
    rows: Iterable[Sequence[object]],
    *,
    title: str | None = None,
    to_stderr: bool = False,
) -> None:
    """Print a table on stdout (or stderr, beside progress), with an optional title line."""
    out = sys.stderr if to_stderr else sys.stdout
    if title:
        out.write(f"{title}\n")
    out.write(table_text(headers, rows))
    out.flush()


def add_json_flag(parser: Any) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON document on stdout")
