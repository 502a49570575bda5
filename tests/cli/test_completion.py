"""`shipyard completion`: scripts made from the argparse tree complete what the CLI accepts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def script(shell: str) -> str:
    return subprocess.run(
        [sys.executable, "-m", "shipyard.cli.main", "completion", shell],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout


def complete_bash(path: Path, *words: str) -> list[str]:
    line = " ".join(f"'{w}'" for w in words)
    program = (
        f"source {path}; COMP_WORDS=(shipyard {line}); COMP_CWORD={len(words)}; "
        '_shipyard; printf "%s\\n" "${COMPREPLY[@]}"'
    )
    out = subprocess.run(["bash", "-c", program], capture_output=True, text=True, check=True)
    return out.stdout.split()


def test_bash_completes_commands_verbs_and_options(tmp_path: Path) -> None:
    path = tmp_path / "shipyard.bash"
    path.write_text(script("bash"))
    assert "frontend" in complete_bash(path, "")
    assert complete_bash(path, "fron") == ["frontend"]
    assert complete_bash(path, "frontend", "tok") == ["token"]
    assert complete_bash(path, "aws", "local", "--p") == ["--port"]
    assert complete_bash(path, "--debug", "aws", "local", "--p") == ["--port"]


def test_zsh_and_fish_name_every_command() -> None:
    from shipyard.cli.main import COMMANDS

    for shell in ("zsh", "fish"):
        text = script(shell)
        assert all(name in text for name in COMMANDS), shell
    assert "complete -c shipyard -n '__fish_seen_subcommand_from local' -l port" in script("fish")
