"""Output conventions: NO_COLOR means no styling at all; piped tables are never wrapped."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

PROGRAM = """
from rich.table import Table
from shipyard.cli.output import stdout_console
table = Table("product", "sha256", box=None)
table.add_row("debian-bookworm-" + "x" * 60, "f" * 64)
console = stdout_console()
console.print("[bold]done[/bold]")
console.print(table)
"""


def run(env: dict[str, str]) -> str:
    return subprocess.run(
        [sys.executable, "-c", PROGRAM], capture_output=True, text=True, check=True, env=env
    ).stdout


def test_no_color_removes_bold_too() -> None:
    import os

    base = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "COLUMNS")}
    assert "\x1b[1m" in run({**base, "FORCE_COLOR": "1"})
    assert "\x1b" not in run({**base, "FORCE_COLOR": "1", "NO_COLOR": "1"})


def test_piped_tables_keep_each_row_on_one_line() -> None:
    import os

    base = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "COLUMNS")}
    lines = run(base).splitlines()
    row = [line for line in lines if "debian-bookworm-" in line]
    assert len(row) == 1 and "f" * 64 in row[0], lines


def test_piped_log_lines_are_not_padded_to_the_table_width() -> None:
    import os

    program = (
        "import logging\n"
        "from shipyard.cli.main import setup_logging\n"
        "setup_logging(False, False)\n"
        "logging.getLogger('shipyard').warning('one short warning')\n"
    )
    base = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "COLUMNS")}
    result = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, check=True, env=base
    )
    assert "one short warning" in result.stderr
    assert len(result.stderr) < 1000, len(result.stderr)


def test_every_table_is_plain_columns_with_a_header_even_when_empty(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from shipyard.cli.main import main
    from shipyard.cli.output import table_text

    assert table_text(("product", "version"), []) == "PRODUCT VERSION\n"

    url = f"sqlite:///{tmp_path / 'fe.db'}"
    assert main(["frontend", "init", "--db", url, "--tls-dir", str(tmp_path / "t")]) == 0
    capsys.readouterr()
    assert main(["frontend", "token", "list", "--db", url]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:3] == ["ID", "DESCRIPTION", "APPLIANCE"]
    assert lines[1].split()[1:4] == ["created", "by", "frontend"]
    assert not any(ch in "".join(lines) for ch in "│┃─━┏┌")
