"""Frontend settings: one frozen value built by the CLI or a test, never at import time."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from shipyard import paths

if TYPE_CHECKING:
    from shipyard.aws.session import AwsSettings

DEFAULT_LISTEN = "127.0.0.1:8470"
ADMIN_ENV = "SHIPYARD_ADMIN_TOKEN"
URL_ENV = "SHIPYARD_FRONTEND_URL"
DB_ENV = "SHIPYARD_FRONTEND_DB"
# The frontend's own certificate, for the admin CLI to trust (`frontend init` makes one).
CA_ENV = "SHIPYARD_FRONTEND_CA"


def default_db_url() -> str:
    """The database URL from SHIPYARD_FRONTEND_DB, else a SQLite file in the user's data dir."""
    if url := os.environ.get(DB_ENV):
        return url
    return f"sqlite:///{paths.data_dir() / 'frontend.db'}"


def default_tls_dir() -> Path:
    """Where `frontend init` keeps its self-signed certificate unless told otherwise."""
    return paths.data_dir() / "tls"


@dataclass(frozen=True)
class IdentityCert:
    """A certificate that signs instance-identity documents, optionally for one region only."""

    pem: bytes
    region: str | None = None


@dataclass(frozen=True)
class IdentityBinding:
    """Where an appliance's hosts may come from; an empty tuple allows any."""

    appliance: str
    image_ids: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    # These need EC2's word (FrontendConfig.confirm_instances): the document does not carry them.
    vpc_ids: tuple[str, ...] = ()
    subnet_ids: tuple[str, ...] = ()
    # Instance profile ARNs or names.
    roles: tuple[str, ...] = ()

    @property
    def needs_ec2(self) -> bool:
        return bool(self.vpc_ids or self.subnet_ids or self.roles)


@dataclass(frozen=True)
class RateLimit:
    """At most ``count`` joins per ``window`` seconds for one key."""

    count: int
    window: float


@dataclass(frozen=True)
class FrontendConfig:
    """How one frontend server runs: its database, whom it trusts, its limits."""

    db_url: str
    identity_certs: tuple[IdentityCert, ...] = ()
    # Identity documents are accepted only from these accounts; with certificates but no
    # account the frontend refuses to start (AWS signs every account's documents alike).
    identity_accounts: tuple[str, ...] = ()
    identity_bindings: tuple[IdentityBinding, ...] = ()
    # Documents of instances launched longer ago than this are refused (pendingTime).
    identity_max_age: int = 3600
    join_rate_per_token: RateLimit = RateLimit(600, 60.0)
    join_rate_per_address: RateLimit = RateLimit(120, 60.0)
    # Where to confirm identity-joined instances with DescribeInstances (None: do not).
    confirm_instances: AwsSettings | None = None
    # The Fernet key shadow attributes are sealed with; never stored in the database.
    secret_key: str | None = None
    host_token_ttl: int = 3600
    install_timeout: int = 3600
    # How often the background sweeper looks for hosts stuck past install_timeout.
    sweep_interval: float = 30.0
    max_body_bytes: int = 1 << 20
