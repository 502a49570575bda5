"""Where Shipyard keeps its files for this user, by the XDG base directory spec."""

from __future__ import annotations

import os
from pathlib import Path


def data_dir() -> Path:
    """Kept until deleted (catalog, keys, frontend database): ``$XDG_DATA_HOME/shipyard``."""
    return _xdg("XDG_DATA_HOME", ".local/share")


def state_dir() -> Path:
    """Worth keeping across runs but not backing up: ``$XDG_STATE_HOME/shipyard``."""
    return _xdg("XDG_STATE_HOME", ".local/state")


def cache_dir() -> Path:
    """Rebuilt when lost (downloads, bases): ``$XDG_CACHE_HOME/shipyard``."""
    return _xdg("XDG_CACHE_HOME", ".cache")


def _xdg(variable: str, default: str) -> Path:
    # The spec: an unset, empty or relative value means the default.
    value = os.environ.get(variable, "")
    base = Path(value) if os.path.isabs(value) else Path.home() / default
    return base / "shipyard"
