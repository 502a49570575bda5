"""The simplestreams files and blobs, and the key they are signed with."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from shipyard.catalog import sign
from shipyard.catalog.api.deps import ServedDep
from shipyard.catalog.api.files import object_response

router = APIRouter(include_in_schema=False)


@router.get("/streams/v1/pubkey.asc")
def pubkey(served: ServedDep) -> Response:
    """The signing key, for clients that trust on first use; careful ones compare it."""
    if served.keys is not None and served.keys.is_file():
        return Response(served.keys.read_text(), media_type="text/plain")
    return Response(sign.export_public(served.home), media_type="text/plain")


@router.api_route("/streams/v1/{name}", methods=["GET", "HEAD"])
def streams(name: str, request: Request, served: ServedDep) -> Response:
    return object_response(served.store, f"streams/v1/{name}", request)


@router.api_route("/blobs/sha256/{pre}/{sha}", methods=["GET", "HEAD"])
def blobs(pre: str, sha: str, request: Request, served: ServedDep) -> Response:
    return object_response(served.store, f"blobs/sha256/{pre}/{sha}", request)
