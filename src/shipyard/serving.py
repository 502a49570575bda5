"""Limits every Shipyard HTTP server puts on a request's head (request line and headers).

uvicorn caps neither the size of a head (with httptools) nor the time a client may take
to send it: its keep-alive timer only runs between requests and every byte resets it.
Seen before these limits: an 8 MB header was accepted, and 50 connections sending half
a head, or one sending nothing, all stayed open for as long as they were watched (90 s
and more), each holding a socket and a parser. So a head must be complete within
``HEAD_SECONDS`` of the connection opening (or of the first byte of a later request on
a kept-alive connection) and must fit in ``MAX_HEAD_BYTES``; otherwise the connection
gets one sentence (408 or 431) and is closed.
"""

from __future__ import annotations

from typing import Any

# Bearer tokens, identity documents and cookies fit many times over; nginx allows 32 KiB.
MAX_HEAD_BYTES = 64 * 1024
# Long enough for a slow link to send a few KiB, short enough that idle sockets go quickly.
HEAD_SECONDS = 10.0


def head_too_large() -> str:
    return f"the request's headers are larger than {MAX_HEAD_BYTES} bytes"


def head_too_slow() -> str:
    return f"the request's headers did not arrive within {HEAD_SECONDS:g} s"


def uvicorn_limits() -> dict[str, Any]:
    """Keyword arguments for ``uvicorn.run`` or ``uvicorn.Config`` that apply these limits."""
    from shipyard.uvicorn_guard import GuardedHttpToolsProtocol

    return {"http": GuardedHttpToolsProtocol}
