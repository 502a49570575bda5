"""Entry point: parse, dispatch to a command module, turn ShipyardErrors into one sentence."""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
import traceback
from collections.abc import Iterator, Sequence

from shipyard import __version__
from shipyard.errors import EXIT_CODES, ShipyardError, exit_code_for

# Command groups, in the order `shipyard --help` lists them. Each module has
# `register(subparsers)` that adds its parser(s) and sets `func` to a handler
# taking the parsed args and returning an exit code. Modules import heavy
# dependencies inside their handlers so `shipyard --help` stays fast.
COMMANDS: dict[str, str] = {
    "build": "shipyard.cli.build",
    "inspect": "shipyard.cli.inspect",
    "verify": "shipyard.cli.verify",
    "diff": "shipyard.cli.diff",
    "manifest": "shipyard.cli.manifest",
    "run": "shipyard.cli.run",
    "ps": "shipyard.cli.instances",
    "stop": "shipyard.cli.instances",
    "ssh": "shipyard.cli.instances",
    "imds": "shipyard.cli.imds",
    "publish": "shipyard.cli.publish",
    "bundle": "shipyard.cli.bundle",
    "iam-policy": "shipyard.cli.iam",
    "aws": "shipyard.cli.aws",
    "frontend": "shipyard.cli.frontend",
    "stack": "shipyard.cli.stack",
    "stacks": "shipyard.cli.stacks",
    "catalog": "shipyard.cli.catalog",
    "completion": "shipyard.cli.completion",
}


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser; with ``argv`` naming a command, only that command's module is imported."""
    parser = argparse.ArgumentParser(
        prog="shipyard",
        description="Bake Debian machine images, boot them like EC2 instances, publish AMIs.",
        epilog=exit_codes_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"shipyard {__version__}")
    parser.add_argument(
        "--debug", action="store_true", help="show debug logs and tracebacks for errors"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="show more progress detail")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    chosen = _chosen_command(argv)
    # A module may register several commands (ps, stop, ssh): import and register it once.
    modules = [m for name, m in COMMANDS.items() if chosen is None or name == chosen]
    for module_name in dict.fromkeys(modules):
        importlib.import_module(module_name).register(subparsers)
    helper = subparsers.add_parser(
        "help", help="show the help of a command", description="Show the help of COMMAND."
    )
    helper.add_argument("topic", nargs="*", metavar="COMMAND", help="e.g. `frontend token`")
    helper.set_defaults(func=lambda args: _show_help(parser, args.topic))
    for path, sub in walk(parser):
        if path:
            _add_global_flags(sub)
        _add_examples(path, sub)
    return parser


def _add_examples(path: tuple[str, ...], parser: argparse.ArgumentParser) -> None:
    """Examples after the options of every command's --help, before any epilog it has."""
    from shipyard.cli.examples import epilog

    examples = epilog(path)
    if examples is None:
        return
    parser.epilog = examples + (f"\n{parser.epilog}" if parser.epilog else "")
    parser.formatter_class = argparse.RawDescriptionHelpFormatter


def _show_help(root: argparse.ArgumentParser, topic: list[str]) -> int:
    """`shipyard help frontend token`: the same text as `shipyard frontend token --help`."""
    from shipyard.errors import UsageError

    parsers = dict(walk(root))
    found = parsers.get(tuple(topic))
    if found is None:
        raise UsageError(
            f"no command {' '.join(topic)!r}", hint="`shipyard --help` lists the commands"
        )
    found.print_help()
    return 0


def walk(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    """Every parser of the tree with its command path, ``()`` for ``shipyard`` itself."""
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from walk(sub, (*path, name))


def _add_global_flags(parser: argparse.ArgumentParser) -> None:
    """`--debug` and `-v` after the command too (`shipyard build x.yaml -v`), as git does."""
    # SUPPRESS: when not given here, the value given before the command stays.
    flags = parser.add_argument_group("global options")
    flags.add_argument(
        "--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS
    )
    flags.add_argument(
        "-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS
    )


def exit_codes_epilog() -> str:
    """The exit-code table as `shipyard --help` shows it."""
    rows = "\n".join(f"  {code:<4} {meaning}" for code, meaning in EXIT_CODES.items())
    return f"exit codes:\n{rows}"


def _chosen_command(argv: Sequence[str] | None) -> str | None:
    for arg in argv or ():
        if not arg.startswith("-"):
            return arg if arg in COMMANDS else None
    return None


def setup_logging(debug: bool, verbose: bool) -> None:
    from rich.logging import RichHandler

    from shipyard.cli.output import stderr_console

    level = logging.DEBUG if debug else logging.INFO if verbose else logging.WARNING
    handler = RichHandler(console=stderr_console(), show_time=False, show_path=False, markup=False)
    logging.basicConfig(level=level, format="%(message)s", handlers=[handler], force=True)
    for noisy in ("botocore", "boto3", "urllib3", "s3transfer", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _flag_for(parser: argparse.ArgumentParser, argv: Sequence[str], setting: str) -> str:
    """The option of the command that ran whose value is ``setting``, else the setting."""
    words = [a for a in argv if not a.startswith("-")]
    flag = setting
    for path, sub in walk(parser):  # parents first, so the deepest command's option wins
        if tuple(words[: len(path)]) != path:
            continue
        for action in sub._actions:
            if action.dest == setting and action.option_strings:
                flag = max(action.option_strings, key=len)
    return flag


def main(argv: Sequence[str] | None = None) -> int:
    if argv is None:
        argv = sys.argv[1:]
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    setup_logging(args.debug, args.verbose)
    try:
        code = args.func(args)
        return int(code or 0)
    except ShipyardError as exc:
        if args.debug:
            traceback.print_exc()
        where = f"{_flag_for(parser, argv, exc.setting)}: " if exc.setting else ""
        for problem in exc.problems:
            print(f"shipyard: error: {where}{problem.rstrip()}", file=sys.stderr)
        if exc.hint:
            print(f"shipyard: hint: {exc.hint}", file=sys.stderr)
        return exit_code_for(exc)
    except KeyboardInterrupt:
        print("shipyard: interrupted", file=sys.stderr)
        return exit_code_for(KeyboardInterrupt())
    except BrokenPipeError:
        # The reader went away (`shipyard manifest schema | head`): not an error of ours.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
