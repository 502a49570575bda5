"""Appliances and their profiles."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shipyard.frontend.core.problems import Conflict, NotFound
from shipyard.frontend.models import Appliance, Host, utcnow
from shipyard.frontend.profiles import check_templates
from shipyard.frontend.schemas.appliances import ApplianceCreate, AppliancePublic
from shipyard.frontend.schemas.profile import Profile


def get(session: Session, name: str) -> Appliance:
    appliance = session.scalars(select(Appliance).where(Appliance.name == name)).first()
    if appliance is None:
        raise NotFound(f"there is no appliance named {name!r}")
    return appliance


def create(session: Session, body: ApplianceCreate) -> Appliance:
    if session.scalars(select(Appliance.id).where(Appliance.name == body.name)).first():
        raise Conflict(f"an appliance named {body.name!r} already exists")
    check_templates(body.profile)
    appliance = Appliance(
        name=body.name, description=body.description, profile=body.profile.model_dump()
    )
    session.add(appliance)
    session.flush()
    return appliance


def set_profile(session: Session, name: str, profile: Profile) -> Appliance:
    appliance = get(session, name)
    check_templates(profile)
    appliance.profile = profile.model_dump()
    appliance.updated_at = utcnow()
    return appliance


def remove(session: Session, name: str) -> None:
    appliance = get(session, name)
    if host_count(session, appliance.id):
        raise Conflict(f"appliance {name!r} still has hosts; remove them first")
    session.delete(appliance)


def host_count(session: Session, appliance_id: int) -> int:
    return session.scalar(select(func.count()).where(Host.appliance_id == appliance_id)) or 0


def listing(session: Session) -> list[AppliancePublic]:
    counts = dict(
        session.execute(select(Host.appliance_id, func.count()).group_by(Host.appliance_id)).all()
    )
    rows = session.scalars(select(Appliance).order_by(Appliance.name))
    return [public(a, counts.get(a.id, 0)) for a in rows]


def public(appliance: Appliance, hosts: int = 0) -> AppliancePublic:
    profile: dict[str, Any] = dict(appliance.profile)
    return AppliancePublic(
        name=appliance.name, description=appliance.description, hosts=hosts, profile=profile
    )
