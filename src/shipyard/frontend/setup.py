"""Prepare a frontend database and manage its tokens (used by `shipyard frontend`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine, select

from shipyard.frontend.core import db, sealing, tls
from shipyard.frontend.crud import appliances, tokens
from shipyard.frontend.models import Appliance

SECRET_KEY_FILE = "secrets.key"
# Join tokens live a day unless told otherwise: they sit in user data anyone on an
# instance can read.
JOIN_TOKEN_TTL = 86400
DEFAULT_APPLIANCES = {"backend": "a host that installs itself from the frontend"}


@dataclass(frozen=True)
class TokenInfo:
    id: int
    kind: str
    description: str
    created: datetime
    expires: datetime | None
    revoked: datetime | None
    uses_left: int | None
    appliance: str | None


def init(
    engine: Engine,
    tls_dir: Path | None = None,
    *,
    admin_token: str | None = None,
    join_token: str | None = None,
) -> dict[str, str]:
    """Migrate the schema, add the default appliance, and mint an admin and a join token.

    With ``tls_dir``, also make a self-signed TLS certificate there and the key shadow
    attributes are sealed with (both kept if they exist), and return their paths and the
    certificate's SHA-256 fingerprint, which hosts pin. ``admin_token``/``join_token``
    adopt tokens made elsewhere instead of minting them. A database that already has a
    live admin token gets no new tokens: running init again (every replica may) only
    migrates, and the result says so with ``"initialised": "already"``.
    """
    made: dict[str, str] = {}
    if tls_dir is not None:
        files = tls.make_self_signed(tls_dir)
        sealing.write_key(tls_dir / SECRET_KEY_FILE)
        made = {
            "tls_cert": str(files.cert),
            "tls_key": str(files.key),
            "ca_sha256": tls.read_fingerprint(files.cert),
            "secret_key_file": str(tls_dir / SECRET_KEY_FILE),
        }
    db.upgrade_locked(engine)
    with db.session_factory(engine)() as session, session.begin():
        db.lock_for_init(session)
        for name, description in DEFAULT_APPLIANCES.items():
            if session.scalars(select(Appliance.id).where(Appliance.name == name)).first() is None:
                session.add(Appliance(name=name, description=description, profile={}))
        if tokens.live_count(session, "admin"):
            return {"initialised": "already", **made}
        _, admin = tokens.create(
            session, "admin", description="created by frontend init", plain=admin_token
        )
        _, join = tokens.create(
            session,
            "join",
            description="created by frontend init",
            ttl=JOIN_TOKEN_TTL,
            plain=join_token,
        )
    return {"initialised": "now", "admin_token": admin, "join_token": join, **made}


def create_token(
    engine: Engine,
    kind: str,
    description: str = "",
    *,
    ttl: int | None = None,
    uses: int | None = None,
    appliance: str | None = None,
) -> tuple[int, str]:
    db.check_current(engine)
    with db.session_factory(engine)() as session, session.begin():
        if appliance is not None:
            appliances.get(session, appliance)
        token, plain = tokens.create(
            session, kind, description=description, ttl=ttl, uses=uses, appliance=appliance
        )
        return token.id, plain


def rotate_token(engine: Engine, token_id: int, kind: str) -> tuple[int, str]:
    db.check_current(engine)
    with db.session_factory(engine)() as session, session.begin():
        token, plain = tokens.rotate(session, token_id, kind)
        return token.id, plain


def list_tokens(engine: Engine, kind: str) -> list[TokenInfo]:
    db.check_current(engine)
    with db.session_factory(engine)() as session:
        return [
            TokenInfo(
                t.id,
                t.kind,
                t.description,
                t.created_at,
                t.expires_at,
                t.revoked_at,
                t.uses_left,
                t.appliance,
            )
            for t in tokens.listing(session, kind)
        ]


def revoke_token(engine: Engine, token_id: int, kind: str) -> None:
    db.check_current(engine)
    with db.session_factory(engine)() as session, session.begin():
        tokens.revoke(session, token_id, kind)
