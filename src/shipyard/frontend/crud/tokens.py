"""Admin, join and host tokens."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from shipyard.frontend.core.problems import NotFound
from shipyard.frontend.core.security import digest, new_token, same_digest
from shipyard.frontend.models import Token, utcnow


def create(
    session: Session,
    kind: str,
    *,
    description: str = "",
    host_id: int | None = None,
    ttl: int | None = None,
    uses: int | None = None,
    appliance: str | None = None,
    now: datetime | None = None,
    plain: str | None = None,
) -> tuple[Token, str]:
    """Store a new token and return it with its clear text (shown once, never stored).

    ``plain`` adopts a token made elsewhere (an unattended install's secret) instead.
    """
    now = now or utcnow()
    plain = plain or new_token(kind)
    token = Token(
        kind=kind,
        digest=digest(plain),
        description=description,
        host_id=host_id,
        created_at=now,
        expires_at=now + timedelta(seconds=ttl) if ttl else None,
        uses_left=uses,
        appliance=appliance,
    )
    session.add(token)
    session.flush()
    return token, plain


def find(session: Session, plain: str, kind: str, now: datetime | None = None) -> Token | None:
    """The live token of ``kind`` whose clear text is ``plain``, if any."""
    if not plain or len(plain) > 200:
        return None
    token = session.scalars(select(Token).where(Token.digest == digest(plain))).first()
    if token is None or token.kind != kind or not same_digest(token.digest, plain):
        return None
    now = now or utcnow()
    if token.revoked_at is not None or (token.expires_at is not None and token.expires_at <= now):
        return None
    return token


def live_count(session: Session, kind: str, now: datetime | None = None) -> int:
    """How many tokens of ``kind`` are neither revoked nor expired."""
    now = now or utcnow()
    return sum(
        1
        for t in listing(session, kind)
        if t.revoked_at is None and (t.expires_at is None or t.expires_at > now)
    )


def listing(session: Session, kind: str) -> list[Token]:
    return list(session.scalars(select(Token).where(Token.kind == kind).order_by(Token.id)))


def revoke(session: Session, token_id: int, kind: str) -> Token:
    token = session.get(Token, token_id)
    if token is None or token.kind != kind:
        raise NotFound(f"there is no {kind} token with id {token_id}")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
    return token


def rotate(session: Session, token_id: int, kind: str) -> tuple[Token, str]:
    """Revoke a live token and mint its replacement with the same description and limits."""
    old = session.get(Token, token_id)
    if old is None or old.kind != kind or old.revoked_at is not None:
        raise NotFound(f"there is no live {kind} token with id {token_id}")
    now = utcnow()
    ttl = int((old.expires_at - old.created_at).total_seconds()) if old.expires_at else None
    old.revoked_at = now
    return create(
        session,
        kind,
        description=old.description,
        ttl=ttl,
        uses=old.uses_left,
        appliance=old.appliance,
        now=now,
    )
