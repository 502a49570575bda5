"""Prepare a frontend database and manage its tokens (used by `shipyard frontend`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, select

from shipyard.frontend.core import db
from shipyard.frontend.crud import tokens
from shipyard.frontend.models import Appliance

DEFAULT_APPLIANCES = {"backend": "a host that installs itself from the frontend"}


@dataclass(frozen=True)
class TokenInfo:
    id: int
    kind: str
    description: str
    created: datetime
    expires: datetime | None
    revoked: datetime | None


def init(engine: Engine) -> dict[str, str]:
    """Migrate the schema, add the default appliance, and mint an admin and a join token."""
    db.upgrade(engine)
    with db.session_factory(engine)() as session, session.begin():
        for name, description in DEFAULT_APPLIANCES.items():
            if session.scalars(select(Appliance.id).where(Appliance.name == name)).first() is None:
                session.add(Appliance(name=name, description=description, profile={}))
        _, admin = tokens.create(session, "admin", description="created by frontend init")
        _, join = tokens.create(session, "join", description="created by frontend init")
    return {"admin_token": admin, "join_token": join}


def create_token(engine: Engine, kind: str, description: str = "") -> tuple[int, str]:
    db.check_current(engine)
    with db.session_factory(engine)() as session, session.begin():
        token, plain = tokens.create(session, kind, description=description)
        return token.id, plain


def list_tokens(engine: Engine, kind: str) -> list[TokenInfo]:
    db.check_current(engine)
    with db.session_factory(engine)() as session:
        return [
            TokenInfo(t.id, t.kind, t.description, t.created_at, t.expires_at, t.revoked_at)
            for t in tokens.listing(session, kind)
        ]


def revoke_token(engine: Engine, token_id: int, kind: str) -> None:
    db.check_current(engine)
    with db.session_factory(engine)() as session, session.begin():
        tokens.revoke(session, token_id, kind)
