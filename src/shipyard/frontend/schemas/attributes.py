"""Attribute bodies."""

from __future__ import annotations

from pydantic import BaseModel

from shipyard.frontend.schemas.common import Body, Text

SHADOW_MASK = "********"


class AttributeSet(Body):
    value: Text
    shadow: bool = False


class AttributePublic(BaseModel):
    """One resolved attribute and the scope it came from; shadow values are masked."""

    attr: str
    value: str
    scope: str
    shadow: bool
    host: str | None = None
    appliance: str | None = None
