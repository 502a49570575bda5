"""Port arguments are refused before a server announces a port it will not listen on."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.parametrize(
    "argv",
    [
        ["aws", "local", "--port", "99999"],
        ["aws", "local", "--port", "0"],
        ["aws", "local", "--port", "http"],
        ["imds", "serve", "--port", "70000"],
        ["imds", "serve", "--port", "-1"],
    ],
)
def test_an_impossible_port_is_refused_before_listening(argv: list[str]) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "shipyard.cli.main", *argv],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "--port" in done.stderr
    assert "not a port number" in done.stderr
    assert "Traceback" not in done.stderr
    assert "listening" not in done.stderr and "endpoint on" not in done.stderr
