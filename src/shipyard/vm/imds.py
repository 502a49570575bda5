"""An instance metadata service with EC2's IMDSv2 semantics, for one instance.

``PUT /latest/api/token`` with ``X-aws-ec2-metadata-token-ttl-seconds`` (1-21600) gives a
token; every other request must carry it in ``X-aws-ec2-metadata-token`` (401 when it is
missing, wrong or expired, unless v1 is allowed). A disabled endpoint answers 403.
Faults EC2 shows under load (503 throttling, slow answers) can be injected to test clients.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import socket
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from shipyard.serving import HEAD_SECONDS, MAX_HEAD_BYTES, head_too_large, head_too_slow
from shipyard.vm.identity import Signer
from shipyard.vm.metadata import (
    API_VERSIONS,
    Instance,
    Node,
    dynamic_tree,
    metadata_tree,
    public_keys_listing,
)

log = logging.getLogger("shipyard.imds")

TOKEN_HEADER = "X-aws-ec2-metadata-token"
TTL_HEADER = "X-aws-ec2-metadata-token-ttl-seconds"
MAX_TTL = 21600
# IMDS requests carry no body; a little is read and dropped, more is refused.
MAX_BODY = 4096


@dataclass(frozen=True)
class Fault:
    """One injected answer: a delay, then a status (e.g. 503) or tokens expiring first."""

    status: int | None = None
    delay: float = 0.0
    expire_tokens: bool = False


@dataclass
class ImdsBehaviour:
    """How the service behaves, beyond the instance it describes."""

    require_token: bool = True  # IMDSv2 only, EC2's default for new instance types
    enabled: bool = True


class ImdsServer(ThreadingHTTPServer):
    """The HTTP server; state shared by its handler threads lives here."""

    daemon_threads = True
    allow_reuse_address = True
    # socketserver's default backlog of 5 left a burst of connections waiting for a
    # retransmitted SYN-ACK: seconds before their head deadline even started.
    request_queue_size = 128

    def __init__(
        self, address: tuple[str, int], instance: Instance, signer: Signer, settings: ImdsBehaviour
    ) -> None:
        super().__init__(address, _Handler)
        self.instance = instance
        self.signer = signer
        self.settings = settings
        self._tokens: dict[str, float] = {}
        self._faults: deque[Fault] = deque()
        self._lock = threading.Lock()
        self.requests: list[tuple[str, str, int]] = []  # (method, path, status)
        self._dynamic: dict[str, Node] | None = None

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    @property
    def url(self) -> str:
        host = str(self.server_address[0])
        return f"http://{host}:{self.port}"

    def inject(self, *faults: Fault) -> None:
        """Answer the next requests with these faults, one each, in order."""
        with self._lock:
            self._faults.extend(faults)

    def expire_tokens(self) -> None:
        """Make every token handed out so far expire now."""
        with self._lock:
            self._tokens = dict.fromkeys(self._tokens, 0.0)

    def new_token(self, ttl: int) -> str:
        token = secrets.token_urlsafe(42)
        with self._lock:
            self._tokens[token] = time.monotonic() + ttl
        return token

    def token_ttl(self, token: str) -> int | None:
        """Seconds left on ``token``, or None when it is unknown or expired."""
        with self._lock:
            expiry = self._tokens.get(token)
        if expiry is None:
            return None
        left = expiry - time.monotonic()
        return int(left) if left > 0 else None

    def next_fault(self) -> Fault | None:
        with self._lock:
            return self._faults.popleft() if self._faults else None

    def record(self, method: str, path: str, status: int) -> None:
        with self._lock:
            self.requests.append((method, path, status))

    def dynamic(self) -> dict[str, Node]:
        if self._dynamic is None:
            self._dynamic = dynamic_tree(self.instance, self.signer.sign)
        return self._dynamic


class _HeadRefused(Exception):
    def __init__(self, status: int) -> None:
        self.status = status


class _HeadReader:
    """The connection's reader while a request head comes in: refuses too much or too late.

    http.server reads up to 100 header lines of 64 KiB each, and waits for them for ever.
    """

    def __init__(self, raw: Any) -> None:
        self.raw = raw
        self.left = MAX_HEAD_BYTES
        self.got = 0
        self.late = False

    def readline(self, limit: int = -1) -> bytes:
        want = self.left + 1 if limit < 0 else min(limit, self.left + 1)
        line: bytes = self.raw.readline(want)
        self.left -= len(line)
        self.got += len(line)
        if self.late:
            raise _HeadRefused(408)
        if self.left < 0:
            raise _HeadRefused(431)
        return line


class _Handler(BaseHTTPRequestHandler):
    server: ImdsServer
    protocol_version = "HTTP/1.1"  # keep-alive: an agent makes all its requests on one connection
    # The head and the body go out in two writes. With Nagle's algorithm the body waited
    # for the client's delayed ACK of the head: 40 ms a request on a kept-alive connection,
    # where EC2's service answers in well under one.
    disable_nagle_algorithm = True
    server_version = "EC2ws"
    sys_version = ""
    _watchdog: threading.Timer | None = None

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("imds: " + format, *args)

    def handle_one_request(self) -> None:
        """One request, whose head must fit in MAX_HEAD_BYTES and arrive within HEAD_SECONDS."""
        raw = self.rfile
        head = _HeadReader(raw)
        self.rfile = head  # type: ignore[assignment]
        self._watchdog = threading.Timer(HEAD_SECONDS, self._too_slow, (head,))
        self._watchdog.daemon = True
        self._watchdog.start()
        try:
            super().handle_one_request()
        except _HeadRefused as refused:
            self.close_connection = True
            if head.got:  # a connection that asked nothing gets no answer
                sentence = head_too_large() if refused.status == 431 else head_too_slow()
                self._raw_refusal(refused.status, sentence)
        finally:
            self._head_done()
            self.rfile = raw

    def parse_request(self) -> bool:
        ok = super().parse_request()
        if isinstance(self.rfile, _HeadReader):
            self.rfile = self.rfile.raw  # the body is read with the real reader
        return ok

    def _too_slow(self, head: _HeadReader) -> None:
        head.late = True
        # Shutting reads down wakes the handler's blocked read; its answer can still be sent.
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RD)

    def _head_done(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None

    def _raw_refusal(self, status: int, sentence: str) -> None:
        body = f"{sentence}\n".encode()
        phrase = {408: "Request Timeout", 431: "Request Header Fields Too Large"}[status]
        with contextlib.suppress(OSError):
            self.wfile.write(
                f"HTTP/1.1 {status} {phrase}\r\nContent-Type: text/plain\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
                + body
            )

    def do_PUT(self) -> None:
        if not self._drain():
            return
        if not self._pre_checks():
            return
        if self._path() != "/latest/api/token":
            self._reply(404 if self.server.settings.enabled else 403)
            return
        if self.headers.get("X-Forwarded-For"):
            # EC2 refuses token requests that went through a proxy.
            self._reply(403)
            return
        raw = self.headers.get(TTL_HEADER, "")
        if not raw.strip().isdigit() or not 1 <= int(raw) <= MAX_TTL:
            self._reply(400)
            return
        ttl = int(raw)
        self._reply(200, self.server.new_token(ttl).encode(), {TTL_HEADER: str(ttl)})

    def do_GET(self) -> None:
        if not self._drain():
            return
        if not self._pre_checks():
            return
        extra: dict[str, str] = {}
        token = self.headers.get(TOKEN_HEADER)
        if token is not None or self.server.settings.require_token:
            ttl = self.server.token_ttl(token or "")
            if ttl is None:
                self._reply(401)
                return
            extra[TTL_HEADER] = str(ttl)
        status, body = self._lookup(self._path())
        self._reply(status, body, extra)

    def _pre_checks(self) -> bool:
        fault = self.server.next_fault()
        if fault is not None:
            if fault.expire_tokens:
                self.server.expire_tokens()
            if fault.delay:
                time.sleep(fault.delay)
            if fault.status is not None:
                self._reply(fault.status)
                return False
        if not self.server.settings.enabled:
            self._reply(403)
            return False
        return True

    def _lookup(self, path: str) -> tuple[int, bytes]:
        parts = [p for p in path.split("/") if p]
        if not parts:
            return 200, "\n".join(API_VERSIONS).encode()
        version, rest = parts[0], parts[1:]
        if version not in API_VERSIONS:
            return 404, b""
        instance = self.server.instance
        top: dict[str, Node] = {"dynamic": {}, "meta-data": {}}
        if instance.user_data is not None:
            top["user-data"] = b""
        if not rest:
            return 200, _listing(top)
        if rest[0] == "user-data" and len(rest) == 1:
            return (200, instance.user_data) if instance.user_data is not None else (404, b"")
        if rest[0] == "meta-data" and rest[1:] == ["public-keys"] and instance.public_keys:
            return 200, public_keys_listing(instance)
        trees: dict[str, dict[str, Node]] = {
            "meta-data": metadata_tree(instance),
            "dynamic": self.server.dynamic(),
        }
        node: Node | None = trees.get(rest[0])
        for name in rest[1:]:
            if not isinstance(node, dict):
                return 404, b""
            # EC2 also accepts "public-keys/0=name" style lookups by index only; a tag key
            # may hold "=" itself.
            node = node.get(name, node.get(name.split("=", 1)[0]))
        if node is None:
            return 404, b""
        return 200, _listing(node) if isinstance(node, dict) else node

    def _path(self) -> str:
        return self.path.split("?", 1)[0]

    def _drain(self) -> bool:
        """Read and drop the request's body; False (after a 400 or 413) when it is not sound.

        A Content-Length that is not a number raised ValueError in the handler, and a
        negative one made ``read`` wait for the end of a stream the client keeps open.
        """
        given = {v.strip() for v in self.headers.get_all("Content-Length") or []}
        if len(given) > 1 or any(not v.isascii() or not v.isdigit() for v in given):
            shown = ", ".join(sorted(given))[:40]
            self._refuse(400, f"Content-Length {shown!r} is not one byte count")
            return False
        if self.headers.get("Transfer-Encoding"):
            self._refuse(400, "Transfer-Encoding is not accepted here; send Content-Length")
            return False
        text = given.pop() if given else "0"
        length = int(text) if len(text) <= 9 else MAX_BODY + 1
        if length > MAX_BODY:
            self._refuse(413, f"a body of {text[:20]} bytes is more than the {MAX_BODY} accepted")
            return False
        if length:
            self.rfile.read(length)
        self._head_done()  # head and body are in: the handler's own time is not limited
        return True

    def _refuse(self, status: int, sentence: str) -> None:
        """Answer ``status`` with one sentence and close: the rest of the stream is unknown."""
        self.close_connection = True
        self._reply(status, f"{sentence}\n".encode(), {"Connection": "close"})

    def _reply(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.server.record(self.command, self._path(), status)


def _listing(folder: dict[str, Node]) -> bytes:
    names = [f"{name}/" if isinstance(child, dict) else name for name, child in folder.items()]
    return "\n".join(names).encode()


@contextmanager
def serve(
    instance: Instance,
    signer: Signer,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    settings: ImdsBehaviour | None = None,
) -> Iterator[ImdsServer]:
    """Run the service in a background thread for the duration of the block."""
    server = ImdsServer((host, port), instance, signer, settings or ImdsBehaviour())
    thread = threading.Thread(target=server.serve_forever, name="imds", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
