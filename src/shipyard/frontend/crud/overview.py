"""What the dashboard shows of the fleet: hosts by appliance and state, counted, and a
cheap fingerprint of them that changes whenever any shown host does.

Core statements returning plain rows, so that they run on the connection of a short
database turn and the page is rendered after the turn is over.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select
from sqlalchemy.orm import Session

from shipyard.frontend.models import Appliance, Host
from shipyard.frontend.schemas.hosts import STATES

# A table this long is still quick to render and read; filters narrow the rest.
MAX_ROWS = 2000


@dataclass(frozen=True)
class HostRow:
    name: str
    appliance: str
    rack: int
    rank: int
    instance_id: str
    ip: str
    state: str
    message: str
    created: datetime
    updated: datetime


@dataclass(frozen=True)
class Fleet:
    hosts: list[HostRow]
    counts: dict[str, int]
    total: int

    @property
    def done(self) -> int:
        return self.counts.get("installed", 0) + self.counts.get("online", 0)

    @property
    def failed(self) -> int:
        return self.counts.get("failed", 0)

    @property
    def pending(self) -> int:
        return self.total - self.done - self.failed


def _appliance_id(name: str) -> Any:
    return select(Appliance.id).where(Appliance.name == name).scalar_subquery()


_ROWS = select(
    Host.name,
    Appliance.name.label("appliance"),
    Host.rack,
    Host.rank,
    Host.instance_id,
    Host.ips,
    Host.source_ip,
    Host.state,
    Host.message,
    Host.created_at,
    Host.updated_at,
).join(Appliance, Host.appliance_id == Appliance.id)


def fleet(db: Session | Connection, appliance: str = "", state: str = "") -> Fleet:
    """The hosts shown (by name, at most MAX_ROWS) and the count of every state.

    The counts honour the appliance filter but not the state one: they are the
    links that choose a state.
    """
    shown = _ROWS.order_by(Host.name).limit(MAX_ROWS)
    if appliance:
        shown = shown.where(Host.appliance_id == _appliance_id(appliance))
    if state:
        shown = shown.where(Host.state == state)
    hosts = [
        HostRow(
            name=r.name,
            appliance=r.appliance,
            rack=r.rack,
            rank=r.rank,
            instance_id=r.instance_id or "",
            ip=r.ips[0] if r.ips else (r.source_ip or ""),
            state=r.state,
            message=r.message or "",
            created=r.created_at,
            updated=r.updated_at,
        )
        for r in db.execute(shown)
    ]
    counted = select(Host.state, func.count()).group_by(Host.state)
    if appliance:
        counted = counted.where(Host.appliance_id == _appliance_id(appliance))
    found: dict[str, int] = {s: n for s, n in db.execute(counted).all()}
    counts = {s: found.get(s, 0) for s in STATES}
    return Fleet(hosts, counts, sum(found.values()))


def fingerprint(db: Session | Connection, appliance: str = "") -> str:
    """Changes when a host of the appliance joins, reports, moves or goes away."""
    query = select(func.count(), func.max(Host.updated_at), func.sum(Host.id))
    if appliance:
        query = query.where(Host.appliance_id == _appliance_id(appliance))
    count, newest, ids = db.execute(query).one()
    stamp = newest.isoformat() if isinstance(newest, datetime) else str(newest or "")
    return f"{count}-{stamp}-{ids or 0}"


def appliance_names(db: Session | Connection) -> list[str]:
    return list(db.scalars(select(Appliance.name).order_by(Appliance.name)))
