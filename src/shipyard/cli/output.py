"""Where output goes: progress and logs to stderr, results (and --json) to stdout."""

from __future__ import annotations

import json
import sys
from functools import cache
from typing import Any

from rich.console import Console


@cache
def stderr_console() -> Console:
    return Console(stderr=True, highlight=False)


@cache
def stdout_console() -> Console:
    return Console(highlight=False)


def emit_json(document: Any) -> None:
    """Print one JSON document on stdout."""
    json.dump(document, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")
    sys.stdout.flush()


def add_json_flag(parser: Any) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON document on stdout")
