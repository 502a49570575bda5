"""Hosts: naming, registration, state transitions and the stuck-host sweep."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Connection, CursorResult, bindparam, func, select, text, update
from sqlalchemy.orm import Session

from shipyard.frontend.core.problems import Conflict, Invalid, NotFound
from shipyard.frontend.crud import appliances
from shipyard.frontend.models import Host, Token, utcnow
from shipyard.frontend.schemas.hosts import HostCreate, HostPublic

# Which reported state may follow which: a repeat is accepted and changes nothing.
ALLOWED_FROM = {
    "installing": {"registered", "profile-sent", "installing"},
    "installed": {"registered", "profile-sent", "installing", "installed"},
    "failed": {"registered", "profile-sent", "installing", "failed"},
    "online": {"installed", "online"},
}
PENDING = ("expected", "registered", "profile-sent", "installing")
# DNS's limit on one label, and the hosts table's column width.
HOST_NAME_MAX = 63


def rack_from_zone(zone: str) -> int:
    """Stacki racks are numbers: zone letter a is rack 0, b is 1, and no zone is rack 0."""
    match = re.search(r"[0-9]([a-z])$", zone or "")
    return ord(match.group(1)) - ord("a") if match else 0


def host_name(appliance: str, rack: int, rank: int) -> str:
    """The Stacki-style name ``APPLIANCE-RACK-RANK``, refused when it would be too long."""
    name = f"{appliance}-{rack}-{rank}"
    if len(name) > HOST_NAME_MAX:
        raise Invalid(
            f"the host name {name[:20]}... would be {len(name)} characters, over the "
            f"{HOST_NAME_MAX} a host name may have; use an appliance with a shorter name"
        )
    return name


def get(session: Session, name: str) -> Host:
    host = session.scalars(select(Host).where(Host.name == name)).first()
    if host is None:
        raise NotFound(f"there is no host named {name!r}")
    return host


def by_instance(session: Session, instance_id: str) -> Host | None:
    return session.scalars(select(Host).where(Host.instance_id == instance_id)).first()


_TOP_RANK = select(func.max(Host.rank)).where(
    Host.appliance_id == bindparam("appliance_id"), Host.rack == bindparam("rack")
)


def next_rank(db: Session | Connection, appliance_id: int, rack: int) -> int:
    top = db.scalar(_TOP_RANK, {"appliance_id": appliance_id, "rack": rack})
    return 0 if top is None else top + 1


def transition(
    transitions: dict[str, str], state: str, now: datetime, message: str | None = None
) -> dict[str, Any]:
    """The column values that move a host to ``state`` at ``now``."""
    changes: dict[str, Any] = {
        "state": state,
        "transitions": {**transitions, state: now.isoformat(timespec="seconds") + "Z"},
        "updated_at": now,
    }
    if message is not None:
        changes["message"] = message
    return changes


def stamp(host: Host, state: str, now: datetime, message: str | None = None) -> None:
    for column, value in transition(host.transitions, state, now, message).items():
        setattr(host, column, value)


def add(session: Session, body: HostCreate, *, state: str = "expected") -> Host:
    """Add a host that is expected to join, under a name nobody holds yet.

    A host added without an instance id is a slot: the first machine of its appliance
    and rack (and MAC, if one is given) that joins takes its name and attributes.
    """
    appliance = appliances.get(session, body.appliance)
    if session.scalars(select(Host.id).where(Host.name == body.name)).first():
        raise Conflict(f"a host named {body.name!r} already exists")
    if body.instance_id and by_instance(session, body.instance_id):
        raise Conflict(f"instance {body.instance_id} already belongs to another host")
    rank = body.rank if body.rank is not None else next_rank(session, appliance.id, body.rack)
    taken = session.scalars(
        select(Host.name).where(
            Host.appliance_id == appliance.id, Host.rack == body.rack, Host.rank == rank
        )
    ).first()
    if taken:
        raise Conflict(f"rack {body.rack} rank {rank} of {appliance.name} is taken by {taken}")
    now = utcnow()
    host = Host(
        name=body.name,
        appliance=appliance,
        rack=body.rack,
        rank=rank,
        instance_id=body.instance_id,
        macs=list(body.macs),
        ips=list(body.ips),
        created_at=now,
        transitions={},
        message="",
    )
    stamp(host, state, now)
    session.add(host)
    session.flush()
    return host


def sweep(db: Session | Connection, timeout: int, now: datetime | None = None) -> list[str]:
    """Mark hosts that have not moved on within ``timeout`` seconds as failed.

    Core statements, so that the background sweeper can run it on a plain connection;
    in a Session, call it before loading the hosts it may change.
    """
    now = now or utcnow()
    if not _sweep_turn(db):
        return []  # another replica is sweeping right now
    limit = now - timedelta(seconds=timeout)
    failed: list[str] = []
    for host in db.execute(_STUCK, {"limit": limit}).all():
        message = f"no progress for {timeout} s while {host.state}"
        changes = transition(host.transitions, "failed", now, message)
        # Only if the host is still stuck: a report that landed meanwhile wins.
        result = db.execute(_FAIL_IF_STUCK, {"b_id": host.id, "limit": limit, **changes})
        if cast(CursorResult[Any], result).rowcount:
            failed.append(host.name)
    return failed


# Replicas on one PostgreSQL: the sweep runs in one of them at a time.
SWEEP_LOCK_KEY = 0x5357_4550  # "SWEP"


def _sweep_turn(db: Session | Connection) -> bool:
    dialect = db.get_bind().dialect if isinstance(db, Session) else db.dialect
    if dialect.name != "postgresql":
        return True  # SQLite writers are serialised already
    return bool(db.scalar(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": SWEEP_LOCK_KEY}))


_STUCK = select(Host.id, Host.name, Host.state, Host.transitions).where(
    Host.state.in_(PENDING), Host.updated_at < bindparam("limit")
)
_FAIL_IF_STUCK = (
    update(Host)
    .where(
        Host.id == bindparam("b_id"),
        Host.state.in_(PENDING),
        Host.updated_at < bindparam("limit"),
    )
    .values(
        state=bindparam("state"),
        transitions=bindparam("transitions"),
        updated_at=bindparam("updated_at"),
        message=bindparam("message"),
    )
)


def listing(session: Session) -> list[Host]:
    return list(session.scalars(select(Host).order_by(Host.name)))


def public(host: Any) -> HostPublic:
    """The public view of an ORM Host or a host row from crud.joining."""
    return HostPublic(
        name=host.name,
        appliance=host.appliance_name,
        rack=host.rack,
        rank=host.rank,
        instance_id=host.instance_id,
        macs=list(host.macs),
        ips=list(host.ips),
        source_ip=host.source_ip or "",
        state=host.state,
        transitions=dict(host.transitions),
        message=host.message,
        created=host.created_at,
        updated=host.updated_at,
    )


def reset(session: Session, name: str) -> Host:
    """Reinstall: back to expected with its tokens revoked, which allows one more join."""

    host = get(session, name)
    now = utcnow()
    for token in session.scalars(
        select(Token).where(Token.host_id == host.id, Token.revoked_at.is_(None))
    ):
        token.revoked_at = now
    stamp(host, "expected", now, "reset for reinstall")
    host.nonce_digest = None
    return host
