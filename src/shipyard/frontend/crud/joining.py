"""What booting hosts do to the database: join, read their own row, report progress.

This is the path a join storm takes thousands of times a minute, so it speaks SQLAlchemy
Core on a plain connection: a handful of cached statements per request and no unit of
work. The admin side keeps the ORM (crud/hosts.py); both share the tables and rules.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any, Literal, cast

from sqlalchemy import (
    BigInteger,
    Connection,
    Row,
    String,
    Table,
    bindparam,
    case,
    func,
    insert,
    literal_column,
    select,
    true,
    union_all,
    update,
)
from sqlalchemy import cast as sql_cast  # typing's cast is the one this module calls cast

from shipyard.frontend.core.problems import Conflict, Forbidden, Invalid, NotFound
from shipyard.frontend.core.security import digest, new_token, same_digest
from shipyard.frontend.crud.hosts import (
    ALLOWED_FROM,
    HOST_NAME_MAX,
    host_name,
    next_rank,
    rack_from_zone,
    transition,
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
# Everything a join must know before it writes, in one round trip: the wanted appliance's
# id (no row: no such appliance), then the host that has this instance id already (of
# whatever appliance), then the expected hosts free to claim in the rack. A row without
# host columns means neither exists. Two indexed branches of a UNION, not one OR, which
# SQLite answers by scanning every host.
_APPLIANCE_ID = select(appliances_t.c.id).where(appliances_t.c.name == bindparam("name"))
_HOST_BY_INSTANCE = _HOST_ROW.add_columns(literal_column("0").label("claim")).where(
    hosts_t.c.instance_id == bindparam("instance_id")
)
_FREE_SLOTS = _HOST_ROW.add_columns(literal_column("1").label("claim")).where(
    hosts_t.c.appliance_id == _APPLIANCE_ID.scalar_subquery(),
    hosts_t.c.rack == bindparam("rack"),
    hosts_t.c.instance_id.is_(None),
    hosts_t.c.state == "expected",
)
_found = union_all(_HOST_BY_INSTANCE, _FREE_SLOTS).subquery("found")
_wanted = appliances_t.alias("wanted")
_CANDIDATES = (
    select(_wanted.c.id.label("wanted_appliance_id"), _found)
    .select_from(_wanted.outerjoin(_found, true()))
    .where(_wanted.c.name == bindparam("name"))
    .order_by(_found.c.claim, _found.c.rank)
)
# On PostgreSQL the same read also takes the rack's lock when no host has this instance
# id yet (a new host or a free slot; not a rejoin or a launched instance's pinned host),
# so that one transaction at a time picks a rank or a slot there. Without it, concurrent
# joins read the same highest rank and all but one fail on the unique constraint. The
# statement's snapshot is older than the lock: what it read may be stale, which is why
# the rank is picked by a later statement (_INSERT_NEXT) and a lost slot claim is read
# again (register). SQLite needs none of it: its writers are serialised already.
_CANDIDATES_LOCKING_RACK = _CANDIDATES.add_columns(
    case(
        (
            ~select(hosts_t.c.id).where(hosts_t.c.instance_id == bindparam("instance_id")).exists(),
            func.pg_advisory_xact_lock(
                sql_cast(_wanted.c.id, BigInteger) * 1_000_003 + bindparam("rack")
            ),
        )
    ).label("locked")
)
_LIVE_JOIN_TOKEN = select(tokens_t.c.id, tokens_t.c.uses_left, tokens_t.c.appliance).where(
    tokens_t.c.digest == bindparam("digest"),
    tokens_t.c.kind == "join",
    tokens_t.c.revoked_at.is_(None),
    tokens_t.c.expires_at.is_(None) | (tokens_t.c.expires_at > bindparam("now")),
)
# Spending a use is one conditional UPDATE, so two joins cannot both take the last one.
_SPEND = (
    update(tokens_t)
    .where(tokens_t.c.id == bindparam("b_id"), tokens_t.c.uses_left > 0)
    .values(uses_left=tokens_t.c.uses_left - 1)
)
_PURGE = tokens_t.delete().where(
    tokens_t.c.kind == "host",
    (tokens_t.c.expires_at < bindparam("before")) | (tokens_t.c.revoked_at < bindparam("before")),
)
# A new host under the next free rank of its rack, named from it, in one statement; no
# row when the name would be too long. (Its parameters have a v_ prefix: an INSERT's own
# column names are reserved.)
_NEW_COLUMNS = [c.name for c in hosts_t.columns if c.name not in ("id", "name", "rank")]
_next_rank = (
    select(func.coalesce(func.max(hosts_t.c.rank) + 1, 0).label("rank"))
    .where(
        hosts_t.c.appliance_id == bindparam("v_appliance_id"), hosts_t.c.rack == bindparam("v_rack")
    )
    .subquery("next")
)
_new_name = bindparam("v_prefix", type_=String) + sql_cast(_next_rank.c.rank, String)
_INSERT_NEXT = (
    insert(hosts_t)
    .from_select(
        ["name", "rank", *_NEW_COLUMNS],
        select(
            _new_name,
            _next_rank.c.rank,
            *(bindparam(f"v_{name}", type_=hosts_t.c[name].type) for name in _NEW_COLUMNS),
        ).where(func.length(_new_name) <= HOST_NAME_MAX),
    )
    .returning(hosts_t.c.id, hosts_t.c.name, hosts_t.c.rank)
)
_INSERT_TOKEN = insert(tokens_t)
# (A bound parameter may not share a name with a column an UPDATE sets, hence b_host_id.)
_REVOKE = update(tokens_t).where(
    tokens_t.c.host_id == bindparam("b_host_id"), tokens_t.c.revoked_at.is_(None)
)
# The columns a transition sets (crud.hosts.transition, with a message).
_TRANSITION_COLUMNS = ("state", "transitions", "message", "updated_at")
_CHANGE_IF_UNCHANGED = update(hosts_t).where(
    hosts_t.c.id == bindparam("b_id"),
    hosts_t.c.state == bindparam("b_state"),
    hosts_t.c.updated_at == bindparam("b_updated_at"),
)
# Installed and its tokens revoked in one statement (PostgreSQL): the host's UPDATE as
# _CHANGE_IF_UNCHANGED's, then the tokens' for the host it moved; returns 1 if it moved.
_installed = (
    _CHANGE_IF_UNCHANGED.values(
        {c: bindparam(f"v_{c}", type_=hosts_t.c[c].type) for c in _TRANSITION_COLUMNS}
    )
    .returning(hosts_t.c.id)
    .cte("installed")
)
_revoked = (
    update(tokens_t)
    .where(tokens_t.c.host_id.in_(select(_installed.c.id)), tokens_t.c.revoked_at.is_(None))
    .values(revoked_at=bindparam("b_revoked_at"))
    .cte("revoked")
)
_INSTALL = select(func.count()).select_from(_installed).add_cte(_revoked)
# Hosts in these states may fetch their profile (and with it their secrets).
PROFILE_STATES = ("registered", "profile-sent", "installing")
# Addresses and MACs kept per host: a host reporting new ones cannot grow its row forever.
MAX_ADDRESSES = 16


@dataclass(frozen=True)
class Proof:
    """What a joining request proved: a join token, a host's own token, or its identity."""

    kind: Literal["join", "host", "identity"]
    host_id: int | None = None
    nonce: str = ""
    # Why an identity document is too old for a first join ("" when it is not).
    stale: str = ""


def host_by_token(conn: Connection, plain: str, now: datetime) -> Row[Any] | None:
    """The host whose live host token is ``plain``, in one query."""
    if not plain or len(plain) > 200:
        return None
    return conn.execute(_BY_TOKEN, {"digest": digest(plain), "now": now}).first()


def join_token(conn: Connection, plain: str, now: datetime) -> Any:
    """The live join token whose clear text is ``plain`` (id, uses_left, appliance)."""
    if not plain or len(plain) > 200:
        return None
    row = conn.execute(_LIVE_JOIN_TOKEN, {"digest": digest(plain), "now": now}).first()
    if row is None or row.uses_left == 0:
        return None
    return row


def spend(conn: Connection, token: Row[Any]) -> None:
    """Take one use of a join token that has a use count."""
    if token.uses_left is not None and conn.execute(_SPEND, {"b_id": token.id}).rowcount != 1:
        raise Forbidden("the join token has no uses left")


def purge_host_tokens(conn: Connection, before: datetime) -> int:
    """Delete host tokens that expired or were revoked before ``before``."""
    return conn.execute(_PURGE, {"before": before}).rowcount or 0


def address(value: str) -> str:
    """A host's reported address in canonical form; refuses what no host can have."""
    try:
        ip = ipaddress.ip_address(value)
    except ValueError:
        raise Invalid(f"local_ipv4 {value!r} is not an IP address") from None
    if ip.is_unspecified or ip.is_multicast or ip.is_loopback:
        raise Invalid(f"local_ipv4 {value!r} is not an address a host can be reached at")
    return str(ip)


@dataclass(frozen=True)
class Joined:
    """The host a join registered (with the attribute names of a host row), the nonce to
    hand back ("" unless one was made now), and whether the host was made by this join."""

    host: Any
    nonce: str
    new: bool


def register(
    conn: Connection, req: JoinRequest, proof: Proof, source_ip: str, now: datetime
) -> Joined:
    """The host for a joining instance: the same one again, an expected one, or a new one.

    A join token creates a host or claims an expected one (a launched instance, a slot
    pinned to its instance id, a host reset for reinstall), exactly once; a host that
    joined already needs its own host token or an identity document with its nonce.
    """
    try:
        return _register(conn, req, proof, source_ip, now)
    except Raced:
        # A free slot this join read was claimed by the join that held the rack's lock
        # before it. The lock is ours now, so a second read sees every claim made.
        return _register(conn, req, proof, source_ip, now)


def _register(
    conn: Connection, req: JoinRequest, proof: Proof, source_ip: str, now: datetime
) -> Joined:
    ip = address(req.local_ipv4) if req.local_ipv4 else ""
    rack = rack_from_zone(req.availability_zone)
    params = {"name": req.appliance, "instance_id": req.instance_id, "rack": rack}
    locking = conn.dialect.name == "postgresql"
    candidates = conn.execute(_CANDIDATES_LOCKING_RACK if locking else _CANDIDATES, params).all()
    if not candidates:
        raise NotFound(f"there is no appliance named {req.appliance!r}")
    appliance_id = candidates[0].wanted_appliance_id
    host = candidates[0] if candidates[0].claim == 0 else None
    if proof.kind == "host" and (host is None or host.id != proof.host_id):
        raise Forbidden(f"the host token is not that of instance {req.instance_id}")
    first_join = host is None or host.state == "expected"
    if first_join and proof.stale:
        raise Forbidden(proof.stale)
    if host is None:
        host = _free_slot(candidates)
    if host is None:
        # A new row gets its final values in its INSERT: no UPDATE, no reading it back.
        changes, nonce = _join_changes(_NO_HOST, req, proof, ip, source_ip, now)
        new = _insert_new(conn, appliance_id, req.appliance, rack, changes, now)
        return Joined(new, nonce, new=True)
    if host.appliance_id != appliance_id:
        raise Conflict(
            f"instance {req.instance_id} is already host {host.name} "
            f"of appliance {host.appliance_name}, not {req.appliance}"
        )
    if host.state != "expected":
        _check_rejoin(host, proof, req.instance_id)
    changes, nonce = _join_changes(host, req, proof, ip, source_ip, now)
    # Only the host as it was read: two joins claiming one free slot must not both win.
    return Joined(_change_if_unchanged(conn, host, changes), nonce, new=False)


# What _join_changes needs of a host that does not exist yet.
_NO_HOST = SimpleNamespace(macs=[], ips=[], nonce_digest=None, state="new", transitions={})


def _join_changes(
    host: Any, req: JoinRequest, proof: Proof, ip: str, source_ip: str, now: datetime
) -> tuple[dict[str, Any], str]:
    """The column values a join sets on ``host``, and the nonce made for it ("" if none)."""
    changes: dict[str, Any] = {
        "instance_id": req.instance_id,
        "updated_at": now,
        "source_ip": source_ip[:45],
    }
    mac = req.mac.lower()
    if mac and mac not in host.macs:
        changes["macs"] = [*host.macs, mac][-MAX_ADDRESSES:]
    if ip and (not host.ips or host.ips[0] != ip):
        changes["ips"] = [ip, *(i for i in host.ips if i != ip)][:MAX_ADDRESSES]
    nonce = ""
    if proof.kind == "identity" and host.nonce_digest is None:
        nonce = new_token("host").removeprefix("syh_")
        changes["nonce_digest"] = digest(nonce)
    if host.state not in ("installed", "online"):
        changes.update(transition(host.transitions, "registered", now, "registered"))
    return changes, nonce


def _check_rejoin(host: Any, proof: Proof, instance_id: str) -> None:
    """A host that joined already: only proof bound to it may join as it again."""
    if proof.kind == "host":
        return
    if proof.kind == "identity" and host.nonce_digest is not None:
        if proof.nonce and same_digest(host.nonce_digest, proof.nonce):
            return
        raise Forbidden(
            f"instance {instance_id} joined before; its identity document must come "
            "with the nonce of its first join"
        )
    raise Conflict(
        f"instance {instance_id} is already host {host.name} ({host.state}); joining as it "
        "again needs its host token, an identity document with its nonce, "
        "or an admin reset for reinstall"
    )


def _insert_new(
    conn: Connection,
    appliance_id: int,
    appliance: str,
    rack: int,
    changes: dict[str, Any],
    now: datetime,
) -> Any:
    """Insert a host under the next free rank of its rack; returns it as a host row would be
    (without its appliance's profile, which a join does not need)."""
    values: dict[str, Any] = {
        "appliance_id": appliance_id,
        "rack": rack,
        "macs": [],
        "ips": [],
        "transitions": {},
        "message": "",
        "source_ip": "",
        "nonce_digest": None,
        "created_at": now,
        **changes,
    }
    params = {f"v_{name}": values[name] for name in _NEW_COLUMNS}
    made = conn.execute(_INSERT_NEXT, {**params, "v_prefix": f"{appliance}-{rack}-"}).first()
    if made is None:
        # The name would be too long: host_name says so in its words.
        host_name(appliance, rack, next_rank(conn, appliance_id, rack))
        raise Conflict(f"no host name is free in rack {rack} of appliance {appliance}")
    return SimpleNamespace(
        id=made.id, name=made.name, rank=made.rank, appliance_name=appliance, **values
    )


def _free_slot(candidates: Sequence[Row[Any]]) -> Row[Any] | None:
    """A host added by hand, pinned to nothing, and not yet claimed.

    A slot with MACs is left alone: MACs are no secret, so they cannot pin a slot (pin
    it to an instance id instead).
    """
    for slot in candidates:
        if slot.claim == 1 and not slot.macs:
            return slot
    return None


def issue_host_token(
    conn: Connection, host_id: int, ttl: int, now: datetime, *, first: bool = False
) -> str:
    """Revoke the host's earlier tokens (a ``first`` one has none) and store a new one;
    returns its clear text."""
    if not first:
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


class Raced(Exception):
    """The host changed between reading it and writing it: read it again and retry."""


def move(conn: Connection, host: Any, state: str, now: datetime, message: str) -> Any:
    """Record a transition and return the host as it is now.

    The update applies only to the host as it was read (same state, same updated_at),
    so it is safe outside a transaction, which spares a host report two of its four
    round trips to PostgreSQL; when another change came first, it raises Raced.
    """
    return _change_if_unchanged(conn, host, transition(host.transitions, state, now, message))


def _change_if_unchanged(conn: Connection, host: Any, changes: dict[str, Any]) -> Any:
    """Apply ``changes`` to the host as it was read (same state, same updated_at) and
    return it as it is now; raises Raced when another change came first."""
    if conn.execute(_CHANGE_IF_UNCHANGED, {**_as_read(host), **changes}).rowcount != 1:
        raise Raced(f"host {host.name} changed meanwhile")
    return _updated(host, changes)


def _as_read(host: Any) -> dict[str, Any]:
    """The parameters by which _CHANGE_IF_UNCHANGED finds the host only as it was read."""
    return {"b_id": host.id, "b_state": host.state, "b_updated_at": host.updated_at}


def _updated(host: Any, changes: dict[str, Any]) -> Any:
    return SimpleNamespace(**{**host._asdict(), **changes})


def report(conn: Connection, host: Any, state: str, message: str, now: datetime) -> Any:
    """Apply a status report; repeating the current state changes nothing.

    An installed host needs no more access (a new boot joins again for a new token), so
    installed also revokes the host's tokens, in the same transaction as the move.
    """
    if host.state == state:
        if state == "installed":
            revoke_host_tokens(conn, host.id, now)  # one a rejoin made meanwhile
        return host
    if host.state not in ALLOWED_FROM[state]:
        raise Conflict(f"host {host.name} is {host.state}; it cannot report {state}")
    if state != "installed":
        return move(conn, host, state, now, message)
    changes = transition(host.transitions, state, now, message)
    if conn.dialect.name != "postgresql":
        moved = _change_if_unchanged(conn, host, changes)  # SQLite: in a transaction
        revoke_host_tokens(conn, host.id, now)
        return moved
    # PostgreSQL runs hosts' reports in autocommit mode: one statement does both.
    values = {f"v_{column}": value for column, value in changes.items()}
    if conn.execute(_INSTALL, {**_as_read(host), **values, "b_revoked_at": now}).scalar() != 1:
        raise Raced(f"host {host.name} changed meanwhile")
    return _updated(host, changes)
