"""Admin view of hosts: list, add, remove, attributes, rendered profile."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from shipyard.frontend.api.deps import AdminDep, SessionDep, SettingsDep
from shipyard.frontend.api.routes.join import rendered
from shipyard.frontend.crud import attributes, hosts
from shipyard.frontend.schemas.attributes import AttributePublic, AttributeSet
from shipyard.frontend.schemas.hosts import HostCreate, HostPublic
from shipyard.frontend.schemas.profile import RenderedProfile

router = APIRouter(
    prefix="/api/v1/hosts",
    tags=["hosts"],
    dependencies=[AdminDep],
    responses={401: {}, 403: {}, 404: {}},
)
# Longer than a new host name may be: hosts named before that limit held must still be
# found, shown and removed.
HostName = Annotated[str, Path(max_length=255, pattern=r"^[A-Za-z0-9._-]+$")]
Key = Annotated[str, Path(max_length=128, pattern=r"^[A-Za-z_][A-Za-z0-9_.-]*$")]


@router.get("", response_model=list[HostPublic])
def list_hosts(session: SessionDep, settings: SettingsDep) -> list[HostPublic]:
    """Every host, after marking those stuck past the install timeout as failed."""
    hosts.sweep(session, settings.install_timeout)
    return [hosts.public(h) for h in hosts.listing(session)]


@router.post("", response_model=HostPublic, status_code=201, responses={409: {}})
def add_host(body: HostCreate, session: SessionDep) -> HostPublic:
    return hosts.public(hosts.add(session, body))


@router.get("/{name}", response_model=HostPublic)
def get_host(name: HostName, session: SessionDep, settings: SettingsDep) -> HostPublic:
    hosts.sweep(session, settings.install_timeout)
    return hosts.public(hosts.get(session, name))


@router.delete("/{name}", status_code=204)
def remove_host(name: HostName, session: SessionDep) -> Response:
    session.delete(hosts.get(session, name))
    return Response(status_code=204)


@router.post("/{name}/reset", response_model=HostPublic)
def reset_host(name: HostName, session: SessionDep) -> HostPublic:
    """Reinstall: revoke the host's tokens and allow exactly one more join as it."""
    return hosts.public(hosts.reset(session, name))


@router.get("/{name}/attributes", response_model=list[AttributePublic])
def host_attributes(name: HostName, session: SessionDep) -> list[AttributePublic]:
    """The host's resolved attributes, each with the scope it came from."""
    return attributes.public_for_host(session, hosts.get(session, name))


@router.put("/{name}/attributes/{key}", status_code=204)
def set_host_attribute(
    name: HostName, key: Key, body: AttributeSet, session: SessionDep, settings: SettingsDep
) -> Response:
    host = hosts.get(session, name)
    attributes.put(session, "host", host.id, key, body.value, body.shadow, settings.secret_key)
    return Response(status_code=204)


@router.delete("/{name}/attributes/{key}", status_code=204)
def remove_host_attribute(name: HostName, key: Key, session: SessionDep) -> Response:
    attributes.remove(session, "host", hosts.get(session, name).id, key)
    return Response(status_code=204)


@router.get("/{name}/profile", response_model=RenderedProfile, responses={422: {}})
def host_profile(name: HostName, session: SessionDep) -> RenderedProfile:
    """The profile as the host would receive it, with shadow values masked."""
    return rendered(session, hosts.get(session, name), mask=True)
