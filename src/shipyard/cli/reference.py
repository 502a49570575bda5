"""The CLI reference (docs/cli.md), made from the argparse tree so it lists every option.

`python -m shipyard.cli.reference > docs/cli.md` rewrites it; a test fails when the file
and the parsers disagree, so the reference cannot fall behind the commands.
"""

from __future__ import annotations

import argparse
import sys

from shipyard.cli.examples import EXAMPLES
from shipyard.cli.main import build_parser, exit_codes_epilog, walk

HEADER = """\
# Shipyard command reference

Generated from the commands' own parsers by `python -m shipyard.cli.reference`; do not
edit by hand. `shipyard COMMAND --help` (or `shipyard help COMMAND`) shows the same.
Every command also takes `--debug` (tracebacks and debug logs) and `-v`/`--verbose`
(more progress), before or after the command's name.

```
{exit_codes}
```
"""


def markdown() -> str:
    root = build_parser()
    parts = [HEADER.format(exit_codes=exit_codes_epilog())]
    for path, parser in walk(root):
        if not path:
            continue
        parts.append(_section(path, parser))
    return "\n".join(parts)


def _section(path: tuple[str, ...], parser: argparse.ArgumentParser) -> str:
    lines = [f"## shipyard {' '.join(path)}", ""]
    if parser.description:
        lines += [parser.description.strip(), ""]
    lines += ["```", _usage(parser), "```", ""]
    rows = [_row(action) for action in parser._actions if _shown(action)]
    if rows:
        lines += ["| argument | meaning |", "|---|---|", *rows, ""]
    examples = EXAMPLES.get(path)
    if examples:
        lines += ["Examples:", "", "```sh", *examples, "```", ""]
    return "\n".join(lines)


def _usage(parser: argparse.ArgumentParser) -> str:
    formatter = argparse.HelpFormatter(parser.prog, width=10_000)
    formatter.add_usage(parser.usage, parser._actions, parser._mutually_exclusive_groups)
    return formatter.format_help().strip().removeprefix("usage: ")


def _shown(action: argparse.Action) -> bool:
    return action.help is not argparse.SUPPRESS and not isinstance(
        action, (argparse._HelpAction, argparse._SubParsersAction)
    )


def _row(action: argparse.Action) -> str:
    if action.option_strings:
        name = ", ".join(action.option_strings)
        if action.nargs != 0:
            name += f" {_metavar(action)}"
    else:
        name = _metavar(action)
    meaning = (action.help or "").replace("%(default)s", str(action.default))
    if action.choices is not None and not isinstance(action, argparse._SubParsersAction):
        meaning += f" (one of: {', '.join(str(c) for c in action.choices)})"
    if action.required and action.option_strings:
        meaning += " (required)"
    elif (
        action.default not in (None, False, "", [], argparse.SUPPRESS)
        and "default" not in meaning
        and f"({action.default})" not in meaning
    ):
        meaning += f" (default: {action.default})"
    cell = meaning.strip().replace("|", "\\|")
    return f"| `{name}` | {cell} |"


def _metavar(action: argparse.Action) -> str:
    if isinstance(action.metavar, tuple):
        return " ".join(action.metavar)
    if action.metavar:
        return str(action.metavar)
    if action.choices is not None:
        return "{" + ",".join(str(c) for c in action.choices) + "}"
    return action.dest.upper() if action.option_strings else action.dest


if __name__ == "__main__":
    sys.stdout.write(markdown())
