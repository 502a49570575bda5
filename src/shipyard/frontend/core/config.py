"""Frontend settings: one frozen value built by the CLI or a test, never at import time."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_LISTEN = "127.0.0.1:8470"
ADMIN_ENV = "SHIPYARD_ADMIN_TOKEN"
URL_ENV = "SHIPYARD_FRONTEND_URL"
DB_ENV = "SHIPYARD_FRONTEND_DB"


def default_db_url() -> str:
    """The database URL from SHIPYARD_FRONTEND_DB, else a SQLite file in the user's data dir."""
    if url := os.environ.get(DB_ENV):
        return url
    base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return f"sqlite:///{base / 'shipyard' / 'frontend.db'}"


@dataclass(frozen=True)
class IdentityCert:
    """A certificate that signs instance-identity documents, optionally for one region only."""

    pem: bytes
    region: str | None = None


@dataclass(frozen=True)
class Settings:
    db_url: str
    identity_certs: tuple[IdentityCert, ...] = ()
    # Identity documents are accepted only from these accounts when any are named.
    identity_accounts: tuple[str, ...] = ()
    host_token_ttl: int = 3600
    install_timeout: int = 3600
    # How often the background sweeper looks for hosts stuck past install_timeout.
    sweep_interval: float = 30.0
    max_body_bytes: int = 1 << 20
