"""Reports generated from the host database, Stacki's `report host`."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse

from shipyard.frontend.api.deps import AdminDep, SessionDep
from shipyard.frontend.crud import hosts

router = APIRouter(
    prefix="/api/v1/report", tags=["report"], dependencies=[AdminDep], responses={401: {}, 403: {}}
)


@router.get("/hosts", response_class=PlainTextResponse)
def etc_hosts(session: SessionDep) -> str:
    """An /etc/hosts listing every host that has an address."""
    lines = ["127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost ip6-loopback"]
    lines += [f"{h.ips[0]}\t{h.name}" for h in hosts.listing(session) if h.ips]
    return "\n".join(lines) + "\n"
