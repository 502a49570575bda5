"""`shipyard build` refuses what it cannot do before it makes anything."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from shipyard.cli.main import main
from shipyard.errors import EXIT_CODES, BuildError, exit_code_for

REPO = Path(__file__).resolve().parents[2]


def test_build_without_root_says_so_and_makes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    out = tmp_path / "builds"

    code = main(["build", str(REPO / "examples/minimal.yml"), "-o", str(out)])

    err = capsys.readouterr().err
    assert code == exit_code_for(BuildError("x")) and code in EXIT_CODES
    assert "building an image needs root" in err and "Traceback" not in err
    assert not out.exists()
