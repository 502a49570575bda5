"""Appliance bodies."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, field_validator

from shipyard.frontend.schemas.common import Body, Name, Short
from shipyard.frontend.schemas.profile import Profile

# Host names are APPLIANCE-RACK-RANK and at most 63 characters: this leaves room for a
# rack of up to 6 digits and a rank of up to 5 ("-100000-99999").
APPLIANCE_NAME_MAX = 50


class ApplianceCreate(Body):
    name: Name
    description: Short = ""
    profile: Profile = Profile()

    @field_validator("name", mode="before")
    @classmethod
    def _room_for_host_names(cls, value: object) -> object:
        if isinstance(value, str) and len(value) > APPLIANCE_NAME_MAX:
            raise ValueError(
                f"an appliance name has at most {APPLIANCE_NAME_MAX} characters (this one has "
                f"{len(value)}), so that its host names NAME-RACK-RANK fit in 63"
            )
        return value


class AppliancePublic(BaseModel):
    name: str
    description: str
    hosts: int
    profile: dict[str, Any]
