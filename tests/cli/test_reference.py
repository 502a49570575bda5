"""docs/cli.md is the parsers' own reference: every command and option, never behind."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from shipyard.cli.main import build_parser, walk

DOCS = Path(__file__).resolve().parents[2] / "docs" / "cli.md"


def generated() -> str:
    # In a process of its own, with a clean environment: defaults must not depend on it.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SHIPYARD_"))}
    return subprocess.run(
        [sys.executable, "-m", "shipyard.cli.reference"],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    ).stdout


def test_docs_cli_md_is_what_the_parsers_say() -> None:
    assert DOCS.read_text() == generated(), (
        "docs/cli.md is stale: run `python -m shipyard.cli.reference > docs/cli.md`"
    )


def test_every_command_and_option_is_in_the_reference() -> None:
    text = DOCS.read_text()
    for path, parser in walk(build_parser()):
        if not path:
            continue
        assert f"## shipyard {' '.join(path)}\n" in text
        for action in parser._actions:
            if action.help == argparse.SUPPRESS:
                continue  # internal, or a global flag documented once at the top
            for option in action.option_strings:
                if option not in ("-h", "--help", "--debug", "-v", "--verbose"):
                    assert f"`{option}" in text or f", {option}" in text, (path, option)
