"""Admin view of appliances and their profiles and attributes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from shipyard.frontend.api.deps import AdminDep, SessionDep, SettingsDep
from shipyard.frontend.crud import appliances, attributes
from shipyard.frontend.schemas.appliances import ApplianceCreate, AppliancePublic
from shipyard.frontend.schemas.attributes import AttributePublic, AttributeSet
from shipyard.frontend.schemas.profile import Profile

router = APIRouter(
    prefix="/api/v1/appliances",
    tags=["appliances"],
    dependencies=[AdminDep],
    responses={401: {}, 403: {}, 404: {}},
)
ApplianceName = Annotated[str, Path(max_length=63, pattern=r"^[A-Za-z0-9._-]+$")]
Key = Annotated[str, Path(max_length=128, pattern=r"^[A-Za-z_][A-Za-z0-9_.-]*$")]


@router.get("", response_model=list[AppliancePublic])
def list_appliances(session: SessionDep) -> list[AppliancePublic]:
    return appliances.listing(session)


@router.post("", response_model=AppliancePublic, status_code=201, responses={409: {}, 422: {}})
def add_appliance(body: ApplianceCreate, session: SessionDep) -> AppliancePublic:
    return appliances.public(appliances.create(session, body))


@router.get("/{name}", response_model=AppliancePublic)
def get_appliance(name: ApplianceName, session: SessionDep) -> AppliancePublic:
    appliance = appliances.get(session, name)
    return appliances.public(appliance, appliances.host_count(session, appliance.id))


@router.delete("/{name}", status_code=204, responses={409: {}})
def remove_appliance(name: ApplianceName, session: SessionDep) -> Response:
    appliances.remove(session, name)
    return Response(status_code=204)


@router.put("/{name}/profile", response_model=AppliancePublic, responses={422: {}})
def set_profile(name: ApplianceName, body: Profile, session: SessionDep) -> AppliancePublic:
    return appliances.public(appliances.set_profile(session, name, body))


@router.get("/{name}/attributes", response_model=list[AttributePublic])
def appliance_attributes(name: ApplianceName, session: SessionDep) -> list[AttributePublic]:
    appliance = appliances.get(session, name)
    return attributes.public_rows(
        attributes.at_scope(session, "appliance", appliance.id), appliance.name
    )


@router.put("/{name}/attributes/{key}", status_code=204)
def set_appliance_attribute(
    name: ApplianceName, key: Key, body: AttributeSet, session: SessionDep, settings: SettingsDep
) -> Response:
    appliance = appliances.get(session, name)
    attributes.put(
        session, "appliance", appliance.id, key, body.value, body.shadow, settings.secret_key
    )
    return Response(status_code=204)


@router.delete("/{name}/attributes/{key}", status_code=204)
def remove_appliance_attribute(name: ApplianceName, key: Key, session: SessionDep) -> Response:
    attributes.remove(session, "appliance", appliances.get(session, name).id, key)
    return Response(status_code=204)
