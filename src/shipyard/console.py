"""The process's two consoles: progress and logs on stderr, results on stdout.

Below every layer, so a workflow can draw a progress bar on the same stderr console the
CLI logs to without importing the CLI.
"""

from __future__ import annotations

import os
from functools import cache

from rich.console import Console

# Piped output is for grep and cut: never wrapped or cut at a guessed width.
PIPE_WIDTH = 100_000


def _console(*, stderr: bool) -> Console:
    plain = bool(os.environ.get("NO_COLOR"))  # no-color.org: any non-empty value
    console = Console(
        stderr=stderr,
        highlight=False,
        # NO_COLOR means no styling at all, bold included (rich's own no_color keeps it).
        color_system=None if plain else "auto",
    )
    # Only results on stdout: the log handler on stderr pads each line to the console's
    # width, and a pipe nobody reads yet would fill with spaces and block the command.
    if not stderr and not console.is_terminal and not os.environ.get("COLUMNS"):
        console.width = PIPE_WIDTH
    return console


@cache
def stderr_console() -> Console:
    return _console(stderr=True)


@cache
def stdout_console() -> Console:
    return _console(stderr=False)
