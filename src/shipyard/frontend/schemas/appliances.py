"""Appliance bodies."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from shipyard.frontend.schemas.common import Body, Name, Short
from shipyard.frontend.schemas.profile import Profile


class ApplianceCreate(Body):
    name: Name
    description: Short = ""
    profile: Profile = Profile()


class AppliancePublic(BaseModel):
    name: str
    description: str
    hosts: int
    profile: dict[str, Any]
