"""Attributes at global, appliance and host scope, resolved with Stacki's precedence."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, bindparam, or_, select
from sqlalchemy.orm import Session

from shipyard.frontend.core.problems import NotFound
from shipyard.frontend.core.sealing import seal, unseal
from shipyard.frontend.models import Attribute, Host
from shipyard.frontend.schemas.attributes import SHADOW_MASK, AttributePublic

# Later scopes win: host over appliance over global.
PRECEDENCE = ("global", "appliance", "host")


@dataclass(frozen=True)
class Resolved:
    value: str
    scope: str
    shadow: bool


def put(
    session: Session,
    scope: str,
    target: int,
    key: str,
    value: str,
    shadow: bool,
    secret_key: str | None,
) -> None:
    """Set an attribute; a shadow value is stored sealed with ``secret_key``."""
    if shadow:
        value = seal(value, secret_key)
    attr = session.scalars(
        select(Attribute).where(
            Attribute.scope == scope, Attribute.target == target, Attribute.key == key
        )
    ).first()
    if attr is None:
        session.add(Attribute(scope=scope, target=target, key=key, value=value, shadow=shadow))
    else:
        attr.value, attr.shadow = value, shadow


def remove(session: Session, scope: str, target: int, key: str) -> None:
    attr = session.scalars(
        select(Attribute).where(
            Attribute.scope == scope, Attribute.target == target, Attribute.key == key
        )
    ).first()
    if attr is None:
        raise NotFound(f"there is no {scope} attribute {key!r}")
    session.delete(attr)


def at_scope(session: Session, scope: str, target: int) -> list[Attribute]:
    return list(
        session.scalars(
            select(Attribute)
            .where(Attribute.scope == scope, Attribute.target == target)
            .order_by(Attribute.key)
        )
    )


# Built once: every profile request runs it.
_VISIBLE = select(Attribute.key, Attribute.value, Attribute.scope, Attribute.shadow).where(
    or_(
        Attribute.scope == "global",
        (Attribute.scope == "appliance") & (Attribute.target == bindparam("appliance_id")),
        (Attribute.scope == "host") & (Attribute.target == bindparam("host_id")),
    )
)


def resolve(db: Session | Connection, host: Any) -> dict[str, Resolved]:
    """Every attribute visible to ``host``, each from the most specific scope that sets it.

    ``host`` is an ORM Host or a host row; only its id and appliance_id are read.
    """
    rows = db.execute(_VISIBLE, {"appliance_id": host.appliance_id, "host_id": host.id}).all()
    resolved: dict[str, Resolved] = {}
    for row in sorted(rows, key=lambda r: PRECEDENCE.index(r.scope)):
        resolved[row.key] = Resolved(row.value, row.scope, row.shadow)
    return dict(sorted(resolved.items()))


def shown(value: str, shadow: bool) -> str:
    return SHADOW_MASK if shadow else value


def opened(resolved: dict[str, Resolved], secret_key: str | None) -> dict[str, str]:
    """Every value in clear text, shadow ones unsealed: only for the host's own use."""
    return {k: unseal(r.value, secret_key) if r.shadow else r.value for k, r in resolved.items()}


def secrets_of(resolved: dict[str, Resolved], secret_key: str | None) -> list[str]:
    """The clear text of the shadow values, to mask them wherever they might show."""
    return [unseal(r.value, secret_key) for r in resolved.values() if r.shadow]


def public_for_host(session: Session, host: Host) -> list[AttributePublic]:
    return [
        AttributePublic(
            attr=key, value=shown(r.value, r.shadow), scope=r.scope, shadow=r.shadow, host=host.name
        )
        for key, r in resolve(session, host).items()
    ]


def public_rows(rows: list[Attribute], appliance: str | None = None) -> list[AttributePublic]:
    return [
        AttributePublic(
            attr=r.key,
            value=shown(r.value, r.shadow),
            scope=r.scope,
            shadow=r.shadow,
            appliance=appliance,
        )
        for r in rows
    ]
