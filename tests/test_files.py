"""Atomic writes: a reader sees the old file or the whole new one, and nothing is left over."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from shipyard.files import atomic_writer, write_atomic


def test_a_write_replaces_the_file_with_the_mode_asked_for(tmp_path: Path) -> None:
    path = tmp_path / "secret.key"
    path.write_text("old")
    write_atomic(path, "new", mode=0o600)
    assert path.read_text() == "new"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["secret.key"]


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "build.json"
    path.write_text("old")
    with pytest.raises(RuntimeError), atomic_writer(path) as fh:
        fh.write(b"half")
        raise RuntimeError("interrupted")
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["build.json"]


def test_create_only_refuses_an_existing_file(tmp_path: Path) -> None:
    path = tmp_path / "index.json"
    path.write_text("first")
    with pytest.raises(FileExistsError), atomic_writer(path, replace=False) as fh:
        fh.write(b"second")
    assert path.read_text() == "first"
    assert [p.name for p in tmp_path.iterdir()] == ["index.json"]
