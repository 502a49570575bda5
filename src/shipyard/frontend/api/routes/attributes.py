"""Global attributes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from shipyard.frontend.api.deps import AdminDep, SessionDep, SettingsDep
from shipyard.frontend.crud import attributes
from shipyard.frontend.schemas.attributes import AttributePublic, AttributeSet

router = APIRouter(
    prefix="/api/v1/attributes",
    tags=["attributes"],
    dependencies=[AdminDep],
    responses={401: {}, 403: {}, 404: {}},
)
Key = Annotated[str, Path(max_length=128, pattern=r"^[A-Za-z_][A-Za-z0-9_.-]*$")]


@router.get("", response_model=list[AttributePublic])
def list_attributes(session: SessionDep) -> list[AttributePublic]:
    return attributes.public_rows(attributes.at_scope(session, "global", 0))


@router.put("/{key}", status_code=204)
def set_attribute(
    key: Key, body: AttributeSet, session: SessionDep, settings: SettingsDep
) -> Response:
    attributes.put(session, "global", 0, key, body.value, body.shadow, settings.secret_key)
    return Response(status_code=204)


@router.delete("/{key}", status_code=204)
def remove_attribute(key: Key, session: SessionDep) -> Response:
    attributes.remove(session, "global", 0, key)
    return Response(status_code=204)
