"""Same manifest, same packages, same disk: a second build elsewhere, bootstrapped afresh
from the mirror and held to the first one's lock, gives a byte-identical disk.raw."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from shipyard.build.lock import LOCK_NAME
from shipyard.record import load

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
pytestmark = pytest.mark.build


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def test_a_fresh_locked_build_elsewhere_gives_the_same_disk(
    minimal_build: Path, tmp_path: Path
) -> None:
    lock = minimal_build / LOCK_NAME
    out = tmp_path / "elsewhere" / "builds"
    result = subprocess.run(
        [sys.executable, "-m", "shipyard.cli.main", "build", str(EXAMPLES / "minimal.yml"),
         "-o", str(out), "--no-cache", "--locked", str(lock), "--no-publish", "--json"],
        capture_output=True, text=True, env={**os.environ, "TZ": "Pacific/Kiritimati"},
        check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    (again,) = out.iterdir()
    assert load(again).cache["base_reused"] is False
    assert sha256(again / "disk.raw") == sha256(minimal_build / "disk.raw")
    assert (again / LOCK_NAME).read_text() == lock.read_text()
