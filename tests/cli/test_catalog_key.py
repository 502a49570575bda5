"""`catalog key --keyring` with a missing folder refuses instead of making a new key."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_a_mistyped_keyring_is_refused_and_not_created(tmp_path: Path) -> None:
    typo = tmp_path / "keyrnig"
    done = subprocess.run(
        [sys.executable, "-m", "shipyard.cli.main", "catalog", "key", "--keyring", str(typo)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "no such GnuPG home" in done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout == ""
    assert not typo.exists()
