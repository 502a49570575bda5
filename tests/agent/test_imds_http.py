"""The agent's own HTTP/1.1 reader against a loopback server that answers with raw bytes:
well-formed answers in each framing, and hostile ones that must end in a clear error
within the deadline rather than a hang or a traceback."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator

import pytest
from rawserver import RawServer

from shipyard.agent.imds import ImdsClient, ImdsError
from shipyard.agent.imds_http import MAX_BODY, BadResponse, Connection

Handler = Callable[["RecordingServer", socket.socket], None]


class RecordingServer(RawServer):
    """A raw server whose handlers also see it, to read requests and record them."""

    def __init__(self, handler: Handler) -> None:
        self.requests: list[bytes] = []
        super().__init__(lambda conn: handler(self, conn))

    def read_request(self, conn: socket.socket) -> bytes:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(4096)
            if not chunk:
                return b""
            data += chunk
        self.requests.append(data)
        return data


StartServer = Callable[[Handler], RecordingServer]


@pytest.fixture
def raw_server() -> Iterator[StartServer]:
    servers: list[RecordingServer] = []

    def start(handler: Handler) -> RecordingServer:
        servers.append(RecordingServer(handler))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def answering(*answers: bytes) -> Handler:
    """A handler that answers each request on a connection with the next of ``answers``."""

    def handle(server: RecordingServer, conn: socket.socket) -> None:
        for answer in answers:
            if not server.read_request(conn):
                return
            conn.sendall(answer)

    return handle


def test_content_length_answers_share_one_connection(raw_server: StartServer) -> None:
    ok = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"
    server = raw_server(answering(ok, ok))
    conn = Connection("127.0.0.1", server.port, 2.0)
    assert conn.request("GET", "/a", {}, 2.0) == (200, b"hello")
    assert conn.reusable
    assert conn.request("GET", "/b", {"X-Token": "t"}, 2.0) == (200, b"hello")
    conn.close()
    assert server.connections == 1
    assert server.requests[1].startswith(b"GET /b HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    assert b"\r\nX-Token: t\r\n" in server.requests[1]


def test_chunked_and_read_to_close_bodies_are_read(raw_server: StartServer) -> None:
    chunked = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
    )
    server = raw_server(answering(chunked))
    conn = Connection("127.0.0.1", server.port, 2.0)
    assert conn.request("GET", "/", {}, 2.0) == (200, b"abcde")
    assert conn.reusable

    def to_close(server: RecordingServer, conn: socket.socket) -> None:
        server.read_request(conn)
        conn.sendall(b"HTTP/1.0 200 OK\r\n\r\nall of it")

    conn = Connection("127.0.0.1", raw_server(to_close).port, 2.0)
    assert conn.request("GET", "/", {}, 2.0) == (200, b"all of it")
    assert not conn.reusable


def test_an_interim_answer_is_skipped(raw_server: StartServer) -> None:
    server = raw_server(
        answering(
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
        ),
    )
    assert Connection("127.0.0.1", server.port, 2.0).request("PUT", "/", {}, 2.0) == (404, b"")
    assert b"\r\nContent-Length: 0\r\n" in server.requests[0]


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (b"SSH-2.0-OpenSSH\r\n\r\n", "does not start with an HTTP status line"),
        (b"HTTP/1.1 2000 OK\r\n\r\n", "does not start with an HTTP status line"),
        (b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", "malformed header line"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "Content-Length"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % (MAX_BODY + 1), "Content-Length"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", "closed in the middle"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", "Transfer-Encoding"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "chunk size"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabXY", "CRLF"),
        (b"HTTP/1.1 200 OK\r\nX: " + b"a" * 20000 + b"\r\n\r\n", "headers are over"),
        (b"HTTP/1.0 200 OK\r\n\r\n" + b"a" * (MAX_BODY + 10), "body is over"),
    ],
)
def test_a_malformed_answer_is_one_clear_error(
    raw_server: StartServer, answer: bytes, error: str
) -> None:
    server = raw_server(answering(answer))
    conn = Connection("127.0.0.1", server.port, 2.0)
    with pytest.raises(BadResponse, match=error):
        conn.request("GET", "/", {}, 2.0)


def test_a_trickling_service_cannot_hold_the_reader_past_its_timeout(
    raw_server: StartServer,
) -> None:
    def trickle(server: RecordingServer, conn: socket.socket) -> None:
        conn.recv(4096)
        for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 1000:
            conn.sendall(bytes([byte]))
            time.sleep(0.05)

    server = raw_server(trickle)
    conn = Connection("127.0.0.1", server.port, 2.0)
    start = time.monotonic()
    with pytest.raises(TimeoutError):
        conn.request("GET", "/", {}, 0.5)
    assert time.monotonic() - start < 5


def test_a_line_break_in_a_header_is_never_sent(raw_server: StartServer) -> None:
    server = raw_server(answering(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"))
    conn = Connection("127.0.0.1", server.port, 2.0)
    with pytest.raises(ValueError, match="control character"):
        conn.request("GET", "/", {"X-Token": "a\r\nHost: elsewhere"}, 2.0)
    assert server.requests == []


def test_a_token_that_cannot_be_sent_back_stops_the_client(raw_server: StartServer) -> None:
    server = raw_server(
        answering(b"HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\nab\r\nHost: x\r\n"),
    )
    client = ImdsClient("127.0.0.1", server.port, deadline=2.0)
    with pytest.raises(ImdsError, match="session token that cannot be sent"):
        client.text("/latest/meta-data/instance-id")
    client.close()


def test_garbage_is_retried_until_the_deadline_then_named(raw_server: StartServer) -> None:
    def garbage(server: RecordingServer, conn: socket.socket) -> None:
        conn.recv(4096)
        conn.sendall(b"\x00\x01 not http\r\n\r\n")

    server = raw_server(garbage)
    client = ImdsClient("127.0.0.1", server.port, deadline=1.0)
    with pytest.raises(ImdsError, match=r"did not answer in time \(.*HTTP status line\)"):
        client.token()
    assert server.connections >= 3
