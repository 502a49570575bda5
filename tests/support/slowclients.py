"""Hostile HTTP clients on raw sockets: oversized heads, half heads, silent connections."""

from __future__ import annotations

import contextlib
import selectors
import socket
import time

# Far longer than any server's head deadline: a connection still open then is left open.
GENEROUS = 60.0
HALF_HEAD = b"GET /healthz HTTP/1.1\r\nHost: test\r\nUser-Agent: slow"


def oversized_head(port: int, size: int = 8 * 1024 * 1024) -> bytes:
    """Send a request whose one header is ``size`` bytes; what the server answered."""
    with socket.create_connection(("127.0.0.1", port), timeout=GENEROUS) as conn:
        chunk = b"a" * 65536
        with contextlib.suppress(OSError):  # the server may close before all is sent
            conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: test\r\nX-Big: ")
            for _ in range(size // len(chunk)):
                conn.sendall(chunk)
            conn.sendall(b"\r\n\r\n")
        return read_all(conn)


def read_all(conn: socket.socket) -> bytes:
    answer = b""
    with contextlib.suppress(OSError):
        while chunk := conn.recv(65536):
            answer += chunk
    return answer


def open_stalled(port: int, half: int, silent: int) -> list[socket.socket]:
    """``half`` connections that send half a head, and ``silent`` that send nothing."""
    conns = []
    for n in range(half + silent):
        conn = socket.create_connection(("127.0.0.1", port), timeout=GENEROUS)
        if n < half:
            conn.sendall(HALF_HEAD)
        conns.append(conn)
    return conns


def still_open_after(conns: list[socket.socket], seconds: float = GENEROUS) -> int:
    """How many of ``conns`` the server has not closed within ``seconds``; closes them all."""
    selector = selectors.DefaultSelector()
    for conn in conns:
        conn.setblocking(False)
        selector.register(conn, selectors.EVENT_READ)
    open_ = set(conns)
    deadline = time.monotonic() + seconds
    while open_ and (left := deadline - time.monotonic()) > 0:
        for key, _ in selector.select(timeout=left):
            conn = key.fileobj
            assert isinstance(conn, socket.socket)
            try:
                data = conn.recv(65536)
            except OSError:
                data = b""
            if not data:
                selector.unregister(conn)
                open_.discard(conn)
    selector.close()
    for conn in conns:
        conn.close()
    return len(open_)


def dribbled_head(port: int, interval: float = 0.5) -> bytes:
    """Send a head one byte every ``interval`` seconds until the server hangs up."""
    head = HALF_HEAD + b"x" * 10_000
    with socket.create_connection(("127.0.0.1", port), timeout=GENEROUS) as conn:
        deadline = time.monotonic() + GENEROUS
        for byte in head:
            if time.monotonic() > deadline:
                return b""
            try:
                conn.sendall(bytes([byte]))
            except OSError:
                break
            conn.settimeout(interval)
            try:
                answer = conn.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                break
            return answer + read_all(conn) if answer else b"(closed)"
        conn.settimeout(GENEROUS)
        return read_all(conn)


def status_of(answer: bytes) -> int | None:
    """The status code of a raw HTTP answer, or None when there was none."""
    parts = answer.split(b" ", 2)
    return int(parts[1]) if len(parts) > 2 and parts[0].startswith(b"HTTP/") else None
