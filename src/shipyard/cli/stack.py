"""`shipyard stack VERB OBJECT ...`: Stacki's command grammar, over HTTP to a frontend."""

from __future__ import annotations

import argparse
import os
from typing import TYPE_CHECKING, Any

from shipyard.cli.output import emit_json, print_table

if TYPE_CHECKING:
    from shipyard.errors import UsageError


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "stack",
        help="Stacki-style host commands: list host, add host, set host attr, report host, ...",
        description=_description(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--frontend",
        metavar="URL",
        help="frontend URL (default: $SHIPYARD_FRONTEND_URL or http://127.0.0.1:8470)",
    )
    parser.add_argument("--token", help="admin token (default: $SHIPYARD_ADMIN_TOKEN)")
    parser.add_argument("words", nargs=argparse.REMAINDER, metavar="VERB OBJECT [ARGS]")
    parser.set_defaults(func=cmd_stack)


def _description() -> str:
    from shipyard.cli.stacki import usage_text

    return (
        "Run one of Stacki's commands against a frontend's admin API. Names are host or\n"
        "appliance names, parameters are key=value; output-format=json or --json prints JSON.\n\n"
        + usage_text([])
    )


def cmd_stack(args: argparse.Namespace) -> int:
    from shipyard.cli.stacki import HELP_WORDS, parse, usage_text
    from shipyard.errors import UsageError
    from shipyard.frontend.client import FrontendClient
    from shipyard.frontend.core.config import ADMIN_ENV, DEFAULT_LISTEN, URL_ENV

    words = _take_options(list(args.words), args)
    if not words or HELP_WORDS.intersection(words):
        # Never a request for a host named --help: the usage, and nothing sent.
        print(usage_text(words), end="")
        return 0
    try:
        command, call, fmt = parse(words)
    except UsageError as exc:
        raise _with_stacks_hint(exc, words) from None
    url = args.frontend or os.environ.get(URL_ENV) or f"http://{DEFAULT_LISTEN}"
    token = args.token or os.environ.get(ADMIN_ENV)
    if not token:
        raise UsageError(f"no admin token: pass --token or set {ADMIN_ENV}")
    with FrontendClient(url, token) as client:
        result = command.handler(client, call)
    render(result, fmt)
    return 0


def _with_stacks_hint(exc: UsageError, words: list[str]) -> UsageError:
    """`shipyard stack deploy web` most likely meant the CloudFormation stacks command."""
    from shipyard.cli.stacks import VERBS
    from shipyard.errors import UsageError

    verb = words[0].lower() if words else ""
    if verb not in VERBS or not exc.message.startswith("unknown command"):
        return exc
    rest = " ".join(words)
    return UsageError(
        exc.message,
        hint=f"CloudFormation stacks are `shipyard stacks {rest}`; "
        "`shipyard stack` speaks Stacki's grammar (e.g. `stack list host`)",
    )


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
    """JSON as is; rows as the CLI's plain columns (header even when empty); text verbatim."""
    from shipyard.cli.stacki import Rows

    if result is None:
        return
    if isinstance(result, str):
        print(result, end="")
    elif isinstance(result, Rows):
        if fmt == "json":
            emit_json(result.rows)
        else:
            print_table(result.columns, result.values())
    elif fmt == "json":
        emit_json(result)
    else:
        import yaml

        print(yaml.safe_dump(result, sort_keys=False), end="")
