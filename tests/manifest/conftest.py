"""Helpers for manifest tests: write manifests and their files into a temporary folder."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

WriteFiles = Callable[..., Path]


@pytest.fixture
def write(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> WriteFiles:
    """``write("m.yml", "name: x")`` writes under a temporary folder, which is the cwd."""
    monkeypatch.chdir(tmp_path)

    def _write(name: str, text: str = "", *, mode: int | None = None) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        if mode is not None:
            path.chmod(mode)
        return path

    return _write
