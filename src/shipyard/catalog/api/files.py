"""Serving store objects over HTTP: Range, ETag and sha256 headers."""

from __future__ import annotations

import hashlib
import re

from fastapi import Request, Response
from fastapi.responses import StreamingResponse

from shipyard.catalog.store import Store
from shipyard.errors import CatalogError

_RANGE = re.compile(r"^bytes=([0-9]*)-([0-9]*)$")
_BLOB = re.compile(r"^blobs/sha256/[0-9a-f]{2}/([0-9a-f]{64})$")
# No object is 10**18 bytes: longer numbers count as "beyond the end" without being
# converted (int() of a 5,000-digit header raised ValueError: a 500 and a traceback).
_MAX_DIGITS = 18
_BEYOND = 10**_MAX_DIGITS


def _position(digits: str) -> int:
    return _BEYOND if len(digits) > _MAX_DIGITS else int(digits)


def _shown(header: str) -> str:
    return repr(header if len(header) <= 40 else header[:40] + "...")


def parse_range(header: str | None, size: int) -> tuple[int, int] | str | None:
    """(start, end) inclusive of one byte range; None: send it all; a str: why it is a 416.

    Units other than bytes and lists of several ranges are ignored (RFC 9110 lets a server
    send the whole object); a bytes range that is malformed or outside the object is refused.
    """
    if not header:
        return None
    text = header.strip()
    unit, _, spec = text.partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    match = _RANGE.match(f"bytes={spec.strip()}")
    if not match or match.groups() == ("", ""):
        form = "bytes=FIRST-LAST, FIRST- or -LENGTH"
        return f"the Range header {_shown(text)} is not a byte range ({form})"
    first, last = match.groups()
    if size == 0:
        return f"the Range header {_shown(text)} asks for bytes of an empty object"
    if first == "":
        length = _position(last)
        if length == 0:
            return f"the Range header {_shown(text)} asks for the last 0 bytes"
        return max(size - length, 0), size - 1
    start = _position(first)
    if last and _position(last) < start:
        return f"the Range header {_shown(text)} ends before it starts"
    if start >= size:
        return f"the Range header {_shown(text)} starts beyond the object's {size} bytes"
    end = min(_position(last), size - 1) if last else size - 1
    return start, end


def object_response(store: Store, key: str, request: Request) -> Response:
    """The object ``key`` as a response honouring Range and If-None-Match."""
    try:
        size = store.size(key)
    except CatalogError:  # not a key inside the store (e.g. "..")
        size = None
    if size is None:
        return Response(status_code=404, content=f"{key} not found\n", media_type="text/plain")
    blob = _BLOB.match(key)
    if blob:
        sha = blob.group(1)
        body: bytes | None = None
    else:
        body = store.get(key)  # index files are small; hashing them gives a stable ETag
        size = len(body)
        sha = hashlib.sha256(body).hexdigest()
    etag = f'"{sha}"'
    headers = {"ETag": etag, "Accept-Ranges": "bytes", "X-Checksum-Sha256": sha}
    media = "application/json" if key.endswith(".json") else "application/octet-stream"
    if key.endswith(".sjson"):
        media = "text/plain"
    if etag in [t.strip() for t in request.headers.get("if-none-match", "").split(",")]:
        return Response(status_code=304, headers=headers)
    wanted = parse_range(request.headers.get("range"), size)
    if request.headers.get("if-range") and request.headers["if-range"] != etag:
        wanted = None  # the client's partial copy is of another object: send the whole
    if isinstance(wanted, str):
        return Response(
            f"{wanted}\n",
            status_code=416,
            headers={**headers, "Content-Range": f"bytes */{size}"},
            media_type="text/plain",
        )
    status = 200
    start, end = 0, size - 1
    if isinstance(wanted, tuple):
        start, end = wanted
        status = 206
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    headers["Content-Length"] = str(end - start + 1)
    if request.method == "HEAD":
        return Response(status_code=status, headers=headers, media_type=media)
    if body is not None:
        return Response(
            body[start : end + 1], status_code=status, headers=headers, media_type=media
        )
    if size == 0:
        return Response(b"", status_code=status, headers=headers, media_type=media)
    return StreamingResponse(
        store.get_range(key, start, end), status_code=status, headers=headers, media_type=media
    )
