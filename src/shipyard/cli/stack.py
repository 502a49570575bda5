"""`shipyard stack VERB OBJECT ...`: Stacki's command grammar, over HTTP to a frontend."""

from __future__ import annotations

import argparse
import os
from typing import Any

from shipyard.cli.output import emit_json


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "stack",
        help="Stacki-style host commands: list host, add host, set host attr, report host, ...",
        description="Examples: stack list host; stack set host attr backend-0-0 attr=ntp "
        "value=10.0.0.1; stack list host output-format=json",
    )
    parser.add_argument(
        "--frontend",
        metavar="URL",
        help="frontend URL (default: $SHIPYARD_FRONTEND_URL or http://127.0.0.1:8470)",
    )
    parser.add_argument("--token", help="admin token (default: $SHIPYARD_ADMIN_TOKEN)")
    parser.add_argument("words", nargs=argparse.REMAINDER, metavar="VERB OBJECT [ARGS]")
    parser.set_defaults(func=cmd_stack)


def cmd_stack(args: argparse.Namespace) -> int:
    from shipyard.errors import UsageError
    from shipyard.frontend.client import FrontendClient
    from shipyard.frontend.core.config import ADMIN_ENV, DEFAULT_LISTEN, URL_ENV
    from shipyard.frontend.stacki import parse

    words = _take_options(list(args.words), args)
    command, call, fmt = parse(words)
    url = args.frontend or os.environ.get(URL_ENV) or f"http://{DEFAULT_LISTEN}"
    token = args.token or os.environ.get(ADMIN_ENV)
    if not token:
        raise UsageError(f"no admin token: pass --token or set {ADMIN_ENV}")
    with FrontendClient(url, token) as client:
        result = command.handler(client, call)
    render(result, fmt)
    return 0


def _take_options(words: list[str], args: argparse.Namespace) -> list[str]:
    """Honour --frontend/--token written after the verb, as people type them."""
    rest: list[str] = []
    it = iter(words)
    for word in it:
        name, eq, value = word.partition("=")
        if name in ("--frontend", "--token"):
            if not eq:
                value = next(it, "")
            setattr(args, name.lstrip("-"), value)
        else:
            rest.append(word)
    return rest


def render(result: Any, fmt: str) -> None:
    """JSON as is; lists of rows as Stacki's plain columns; text verbatim."""
    if result is None:
        return
    if isinstance(result, str):
        print(result, end="")
    elif fmt == "json":
        emit_json(result)
    elif isinstance(result, dict):
        import yaml

        print(yaml.safe_dump(result, sort_keys=False), end="")
    elif result:
        print(columns(result), end="")


def columns(rows: list[dict[str, Any]]) -> str:
    """Left-aligned columns under upper-case headers, never truncated (output is for grep)."""
    header = [k.upper() for k in rows[0]]
    cells = [["" if v is None else str(v) for v in row.values()] for row in rows]
    widths = [max(len(c) for c in col) for col in zip(header, *cells, strict=False)]
    lines = [
        " ".join(c.ljust(w) for c, w in zip(line, widths, strict=False)).rstrip()
        for line in [header, *cells]
    ]
    return "\n".join(lines) + "\n"
