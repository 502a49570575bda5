"""HTTP/1.1 over a plain socket, as much as the metadata service needs (stdlib only).

http.client would do, but it imports the email package and ssl: under emulation that is
a third of the agent's start, paid on every first boot before the first report. The
metadata service answers small bodies with Content-Length; chunked and read-to-close
bodies are understood too. Everything read is bounded, and anything unexpected is a
``BadResponse``, an OSError, so the client retries it like a dropped connection.
"""

from __future__ import annotations

import socket
import time

MAX_HEAD = 16 * 1024  # status line and headers
MAX_BODY = 1024 * 1024  # user data is at most 16 KiB; nothing the service sends is near this


class BadResponse(OSError):
    """The answer was not HTTP the client can read; the message says what was wrong."""


class Connection:
    """One keep-alive connection; ``request`` sends and reads one exchange."""

    def __init__(self, host: str, port: int, timeout: float) -> None:
        self.host = host
        # The name as bytes, which create_connection hands to getaddrinfo as they are:
        # given a str, getaddrinfo imports the idna codec (stringprep, unicodedata), a
        # tenth of a second of every first boot under emulation.
        address = (host.encode("ascii"), port)
        self.sock = socket.create_connection(address, timeout=timeout)  # type: ignore[arg-type]
        self._buffer = b""
        self._until = 0.0
        self.reusable = True

    def close(self) -> None:
        self.sock.close()

    def request(
        self, method: str, path: str, headers: dict[str, str], timeout: float
    ) -> tuple[int, bytes]:
        """Send one request and read its answer, all within ``timeout`` seconds: a
        service that trickles bytes cannot hold the agent past it."""
        self._until = time.monotonic() + timeout
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        if method in ("PUT", "POST"):
            lines.append("Content-Length: 0")
        for line in lines:
            if not line.isprintable() or not line.isascii():
                raise ValueError("a request line or header holds a control character")
        self.sock.settimeout(timeout)
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("ascii"))
        while True:
            status, fields, version = self._read_head()
            if status >= 200:
                break  # 1xx answers are interim: the real one follows
        body = self._read_body(fields)
        framed = "content-length" in fields or "transfer-encoding" in fields
        closing = "close" in fields.get("connection", "").lower()
        self.reusable = version == "HTTP/1.1" and framed and not closing
        return status, body

    def _read_head(self) -> tuple[int, dict[str, str], str]:
        while b"\r\n\r\n" not in self._buffer:
            if len(self._buffer) > MAX_HEAD:
                raise BadResponse(f"the answer's headers are over {MAX_HEAD} bytes")
            self._fill()
        head, self._buffer = self._buffer.split(b"\r\n\r\n", 1)
        if len(head) > MAX_HEAD:
            raise BadResponse(f"the answer's headers are over {MAX_HEAD} bytes")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        parts = status_line.split(" ", 2)
        if (
            len(parts) < 2
            or parts[0] not in ("HTTP/1.0", "HTTP/1.1")
            or len(parts[1]) != 3
            or not _digits(parts[1])
        ):
            raise BadResponse("the answer does not start with an HTTP status line")
        fields: dict[str, str] = {}
        for line in header_lines:
            name, colon, value = line.partition(":")
            if not colon or not name or name != name.strip():
                raise BadResponse("the answer has a malformed header line")
            fields[name.lower()] = value.strip()
        return int(parts[1]), fields, parts[0]

    def _read_body(self, fields: dict[str, str]) -> bytes:
        encoding = fields.get("transfer-encoding")
        if encoding is not None:
            if encoding.lower() != "chunked":
                raise BadResponse(f"the answer's Transfer-Encoding {encoding[:40]!r} is unknown")
            return self._read_chunked()
        length = fields.get("content-length")
        if length is not None:
            if not _digits(length) or int(length) > MAX_BODY:
                raise BadResponse(f"the answer's Content-Length is not a size up to {MAX_BODY}")
            return self._take(int(length))
        while len(self._buffer) <= MAX_BODY and self._fill(eof_ok=True):
            pass
        if len(self._buffer) > MAX_BODY:
            raise BadResponse(f"the answer's body is over {MAX_BODY} bytes")
        body, self._buffer = self._buffer, b""
        return body

    def _read_chunked(self) -> bytes:
        body = b""
        while True:
            size_line = self._line()
            size_text = size_line.split(b";", 1)[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError:
                raise BadResponse("the answer has a malformed chunk size") from None
            if size < 0 or len(body) + size > MAX_BODY:
                raise BadResponse(f"the answer's body is over {MAX_BODY} bytes")
            if size == 0:
                while self._line():
                    pass  # trailers, up to the empty line
                return body
            body += self._take(size)
            if self._take(2) != b"\r\n":
                raise BadResponse("a chunk of the answer does not end with CRLF")

    def _line(self) -> bytes:
        while b"\r\n" not in self._buffer:
            if len(self._buffer) > MAX_HEAD:
                raise BadResponse("a line of the answer is too long")
            self._fill()
        line, self._buffer = self._buffer.split(b"\r\n", 1)
        return line

    def _take(self, count: int) -> bytes:
        while len(self._buffer) < count:
            self._fill()
        data, self._buffer = self._buffer[:count], self._buffer[count:]
        return data

    def _fill(self, eof_ok: bool = False) -> bool:
        left = self._until - time.monotonic()
        if left <= 0:
            raise TimeoutError("the answer did not come in time")
        self.sock.settimeout(left)
        data = self.sock.recv(65536)
        if not data:
            if eof_ok:
                return False
            raise BadResponse("the connection closed in the middle of the answer")
        self._buffer += data
        return True


def _digits(text: str) -> bool:
    return text.isascii() and text.isdigit()
