"""Hosts: naming, registration, state transitions and the stuck-host sweep."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from shipyard.frontend.core.problems import Conflict, NotFound
from shipyard.frontend.crud import appliances
from shipyard.frontend.models import Host, utcnow
from shipyard.frontend.schemas.hosts import HostCreate, HostPublic, JoinRequest

# Which reported state may follow which: a repeat is accepted and changes nothing.
ALLOWED_FROM = {
    "installing": {"registered", "profile-sent", "installing"},
    "installed": {"registered", "profile-sent", "installing", "installed"},
    "failed": {"registered", "profile-sent", "installing", "failed"},
    "online": {"installed", "online"},
}
PENDING = ("expected", "registered", "profile-sent", "installing")


def rack_from_zone(zone: str) -> int:
    """Stacki racks are numbers: zone letter a is rack 0, b is 1, and no zone is rack 0."""
    match = re.search(r"[0-9]([a-z])$", zone or "")
    return ord(match.group(1)) - ord("a") if match else 0


def get(session: Session, name: str) -> Host:
    host = session.scalars(select(Host).where(Host.name == name)).first()
    if host is None:
        raise NotFound(f"there is no host named {name!r}")
    return host


def by_instance(session: Session, instance_id: str) -> Host | None:
    return session.scalars(select(Host).where(Host.instance_id == instance_id)).first()


def next_rank(session: Session, appliance_id: int, rack: int) -> int:
    top = session.scalar(
        select(func.max(Host.rank)).where(Host.appliance_id == appliance_id, Host.rack == rack)
    )
    return 0 if top is None else top + 1


def stamp(host: Host, state: str, now: datetime, message: str | None = None) -> None:
    host.state = state
    host.transitions = {**host.transitions, state: now.isoformat(timespec="seconds") + "Z"}
    if message is not None:
        host.message = message
    host.updated_at = now


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


def register(session: Session, req: JoinRequest, now: datetime | None = None) -> Host:
    """The host for a joining instance: the same one again, an expected one, or a new one."""
    now = now or utcnow()
    appliance = appliances.get(session, req.appliance)
    host = by_instance(session, req.instance_id)
    rack = rack_from_zone(req.availability_zone)
    if host is None:
        host = _free_slot(session, appliance.id, rack, req.mac.lower())
        if host is not None:
            host.instance_id = req.instance_id
    if host is None:
        _lock_rack(session, appliance.id, rack)
        rank = next_rank(session, appliance.id, rack)
        host = Host(
            name=f"{appliance.name}-{rack}-{rank}",
            appliance=appliance,
            rack=rack,
            rank=rank,
            instance_id=req.instance_id,
            macs=[],
            ips=[],
            transitions={},
            message="",
            created_at=now,
        )
        session.add(host)
    else:
        if host.appliance_id != appliance.id:
            raise Conflict(
                f"instance {req.instance_id} is already host {host.name} "
                f"of appliance {host.appliance.name}, not {appliance.name}"
            )
        if req.mac and host.macs and req.mac.lower() not in host.macs:
            raise Conflict(f"instance {req.instance_id} is already claimed with another MAC")
    if req.mac and req.mac.lower() not in host.macs:
        host.macs = [*host.macs, req.mac.lower()]
    if req.local_ipv4 and req.local_ipv4 not in host.ips:
        host.ips = [req.local_ipv4, *host.ips]
    if host.state not in ("installed", "online"):
        stamp(host, "registered", now, "registered")
    host.updated_at = now
    session.flush()
    return host


def _lock_rack(session: Session, appliance_id: int, rack: int) -> None:
    """On PostgreSQL, let one transaction at a time pick the next rank in a rack."""
    # Without it, concurrent joins read the same highest rank and all but one fail on
    # the unique constraint. SQLite needs nothing: its writers are already serialised.
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            text("SELECT pg_advisory_xact_lock(:key)"), {"key": appliance_id * 1_000_003 + rack}
        )


def _free_slot(session: Session, appliance_id: int, rack: int, mac: str) -> Host | None:
    """A host added by hand and not yet claimed: the first one whose MAC fits, if any."""
    slots = session.scalars(
        select(Host)
        .where(
            Host.appliance_id == appliance_id,
            Host.rack == rack,
            Host.instance_id.is_(None),
            Host.state == "expected",
        )
        .order_by(Host.rank)
    ).all()
    for slot in slots:
        if not slot.macs or mac in slot.macs:
            return slot
    return None


def report(
    session: Session, host: Host, state: str, message: str, now: datetime | None = None
) -> bool:
    """Apply a status report; returns False when it repeats the current state."""
    if host.state == state:
        return False
    if host.state not in ALLOWED_FROM[state]:
        raise Conflict(f"host {host.name} is {host.state}; it cannot report {state}")
    stamp(host, state, now or utcnow(), message)
    return True


def sweep(session: Session, timeout: int, now: datetime | None = None) -> list[str]:
    """Mark hosts that have not moved on within ``timeout`` seconds as failed."""
    now = now or utcnow()
    limit = now - timedelta(seconds=timeout)
    stuck = session.scalars(
        select(Host).where(Host.state.in_(PENDING), Host.updated_at < limit)
    ).all()
    for host in stuck:
        stamp(host, "failed", now, f"no progress for {timeout} s while {host.state}")
    return [h.name for h in stuck]


def listing(session: Session) -> list[Host]:
    return list(session.scalars(select(Host).order_by(Host.name)))


def public(host: Host) -> HostPublic:
    return HostPublic(
        name=host.name,
        appliance=host.appliance.name,
        rack=host.rack,
        rank=host.rank,
        instance_id=host.instance_id,
        macs=list(host.macs),
        ips=list(host.ips),
        state=host.state,
        transitions=dict(host.transitions),
        message=host.message,
        created=host.created_at,
        updated=host.updated_at,
    )
