"""What booting hosts do to the database: join, read their own row, report progress.

This is the path a join storm takes thousands of times a minute, so it speaks SQLAlchemy
Core on a plain connection: a handful of cached statements per request and no unit of
work. The admin side keeps the ORM (crud/hosts.py); both share the tables and rules.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any, cast

from sqlalchemy import Connection, Row, Table, bindparam, insert, select, text, update

from shipyard.frontend.core.problems import Conflict, NotFound
from shipyard.frontend.core.security import digest, new_token
from shipyard.frontend.crud.hosts import (
    ALLOWED_FROM,
    next_rank,
    rack_from_zone,
    transition,
    update_columns,
)
from shipyard.frontend.models import Appliance, Host, Token
from shipyard.frontend.schemas.hosts import JoinRequest

hosts_t = cast(Table, Host.__table__)
tokens_t = cast(Table, Token.__table__)
appliances_t = cast(Table, Appliance.__table__)

# A host row with what its callers need of its appliance; attribute names match the ORM
# Host's, so crud.hosts.public and the profile renderer take either.
_HOST_ROW = select(
    hosts_t,
    appliances_t.c.name.label("appliance_name"),
    appliances_t.c.profile.label("appliance_profile"),
).join(appliances_t, appliances_t.c.id == hosts_t.c.appliance_id)


# Statements are built once with bound parameters: building and hashing a statement per
# call cost more than running it.
_BY_TOKEN = _HOST_ROW.join(tokens_t, tokens_t.c.host_id == hosts_t.c.id).where(
    tokens_t.c.digest == bindparam("digest"),
    tokens_t.c.kind == "host",
    tokens_t.c.revoked_at.is_(None),
    tokens_t.c.expires_at > bindparam("now"),
)
_BY_ID = _HOST_ROW.where(hosts_t.c.id == bindparam("host_id"))
_BY_INSTANCE = _HOST_ROW.where(hosts_t.c.instance_id == bindparam("instance_id"))
_FREE_SLOTS = _HOST_ROW.where(
    hosts_t.c.appliance_id == bindparam("appliance_id"),
    hosts_t.c.rack == bindparam("rack"),
    hosts_t.c.instance_id.is_(None),
    hosts_t.c.state == "expected",
).order_by(hosts_t.c.rank)
_APPLIANCE_ID = select(appliances_t.c.id).where(appliances_t.c.name == bindparam("name"))
_LIVE_JOIN_TOKEN = select(tokens_t.c.id).where(
    tokens_t.c.digest == bindparam("digest"),
    tokens_t.c.kind == "join",
    tokens_t.c.revoked_at.is_(None),
    tokens_t.c.expires_at.is_(None) | (tokens_t.c.expires_at > bindparam("now")),
)
_INSERT_HOST = insert(hosts_t).returning(hosts_t.c.id)
_INSERT_TOKEN = insert(tokens_t)
# (A bound parameter may not share a name with a column an UPDATE sets, hence b_host_id.)
_REVOKE = update(tokens_t).where(
    tokens_t.c.host_id == bindparam("b_host_id"), tokens_t.c.revoked_at.is_(None)
)
_RACK_LOCK = text("SELECT pg_advisory_xact_lock(:key)")


def host_by_token(conn: Connection, plain: str, now: datetime) -> Row[Any] | None:
    """The host whose live host token is ``plain``, in one query."""
    if not plain or len(plain) > 200:
        return None
    return conn.execute(_BY_TOKEN, {"digest": digest(plain), "now": now}).first()


def host_by_id(conn: Connection, host_id: int) -> Row[Any]:
    return conn.execute(_BY_ID, {"host_id": host_id}).one()


def join_token_is_live(conn: Connection, plain: str, now: datetime) -> bool:
    if not plain or len(plain) > 200:
        return False
    return conn.execute(_LIVE_JOIN_TOKEN, {"digest": digest(plain), "now": now}).first() is not None


def register(conn: Connection, req: JoinRequest, now: datetime) -> Any:
    """The host for a joining instance: the same one again, an expected one, or a new one.

    Returns the host as it is now, with the attribute names of a host row.
    """
    appliance_id = conn.execute(_APPLIANCE_ID, {"name": req.appliance}).scalar()
    if appliance_id is None:
        raise NotFound(f"there is no appliance named {req.appliance!r}")
    mac = req.mac.lower()
    rack = rack_from_zone(req.availability_zone)
    host = conn.execute(_BY_INSTANCE, {"instance_id": req.instance_id}).first()
    if host is None:
        host = _free_slot(conn, appliance_id, rack, mac)
    if host is None:
        host_id = _insert_new(conn, appliance_id, req.appliance, rack, req.instance_id, now)
        host = host_by_id(conn, host_id)
    elif host.appliance_id != appliance_id:
        raise Conflict(
            f"instance {req.instance_id} is already host {host.name} "
            f"of appliance {host.appliance_name}, not {req.appliance}"
        )
    elif mac and host.macs and mac not in host.macs:
        raise Conflict(f"instance {req.instance_id} is already claimed with another MAC")

    changes: dict[str, Any] = {"instance_id": req.instance_id, "updated_at": now}
    if mac and mac not in host.macs:
        changes["macs"] = [*host.macs, mac]
    if req.local_ipv4 and req.local_ipv4 not in host.ips:
        changes["ips"] = [req.local_ipv4, *host.ips]
    if host.state not in ("installed", "online"):
        changes.update(transition(host.transitions, "registered", now, "registered"))
    update_columns(conn, host.id, changes)
    return _updated(host, changes)


def _insert_new(
    conn: Connection, appliance_id: int, appliance: str, rack: int, instance_id: str, now: datetime
) -> int:
    _lock_rack(conn, appliance_id, rack)
    rank = next_rank(conn, appliance_id, rack)
    host_id: int = conn.execute(
        _INSERT_HOST,
        {
            "name": f"{appliance}-{rack}-{rank}",
            "appliance_id": appliance_id,
            "rack": rack,
            "rank": rank,
            "instance_id": instance_id,
            "macs": [],
            "ips": [],
            "state": "registered",
            "transitions": {},
            "message": "",
            "created_at": now,
            "updated_at": now,
        },
    ).scalar_one()
    return host_id


def _lock_rack(conn: Connection, appliance_id: int, rack: int) -> None:
    """On PostgreSQL, let one transaction at a time pick the next rank in a rack."""
    # Without it, concurrent joins read the same highest rank and all but one fail on
    # the unique constraint. SQLite needs nothing: its writers are already serialised.
    if conn.dialect.name == "postgresql":
        conn.execute(_RACK_LOCK, {"key": appliance_id * 1_000_003 + rack})


def _free_slot(conn: Connection, appliance_id: int, rack: int, mac: str) -> Row[Any] | None:
    """A host added by hand and not yet claimed: the first one whose MAC fits, if any."""
    for slot in conn.execute(_FREE_SLOTS, {"appliance_id": appliance_id, "rack": rack}).all():
        if not slot.macs or mac in slot.macs:
            return slot
    return None


def issue_host_token(conn: Connection, host_id: int, ttl: int, now: datetime) -> str:
    """Revoke the host's earlier tokens and store a new one; returns its clear text."""
    revoke_host_tokens(conn, host_id, now)
    plain = new_token("host")
    conn.execute(
        _INSERT_TOKEN,
        {
            "kind": "host",
            "digest": digest(plain),
            "description": "",
            "host_id": host_id,
            "created_at": now,
            "expires_at": now + timedelta(seconds=ttl),
        },
    )
    return plain


def revoke_host_tokens(conn: Connection, host_id: int, now: datetime) -> None:
    conn.execute(_REVOKE, {"b_host_id": host_id, "revoked_at": now})


def move(conn: Connection, host: Any, state: str, now: datetime, message: str) -> Any:
    """Record a transition and return the host as it is now."""
    changes = transition(host.transitions, state, now, message)
    update_columns(conn, host.id, changes)
    return _updated(host, changes)


def _updated(host: Any, changes: dict[str, Any]) -> Any:
    return SimpleNamespace(**{**host._asdict(), **changes})


def report(conn: Connection, host: Any, state: str, message: str, now: datetime) -> Any:
    """Apply a status report; repeating the current state changes nothing."""
    if host.state == state:
        return host
    if host.state not in ALLOWED_FROM[state]:
        raise Conflict(f"host {host.name} is {host.state}; it cannot report {state}")
    return move(conn, host, state, now, message)
