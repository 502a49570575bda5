"""The frontend's HTTP server against hostile clients on raw sockets."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from frontloop import Frontend
from slowclients import dribbled_head, open_stalled, oversized_head, status_of, still_open_after

pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


def port_of(frontend: Frontend) -> int:
    port = urlsplit(frontend.url).port
    assert port is not None
    return port


def test_an_8_mb_header_is_refused_with_431(frontend: Frontend) -> None:
    answer = oversized_head(port_of(frontend))
    assert status_of(answer) == 431
    assert answer.endswith(b"are larger than 65536 bytes\n")
    assert frontend.http.get("/healthz").status_code == 200


def test_half_heads_and_silent_connections_are_closed(frontend: Frontend) -> None:
    stalled = open_stalled(port_of(frontend), half=50, silent=1)
    assert still_open_after(stalled) == 0
    assert frontend.http.get("/healthz").status_code == 200


def test_a_head_sent_a_byte_at_a_time_gets_408(frontend: Frontend) -> None:
    answer = dribbled_head(port_of(frontend))
    assert status_of(answer) == 408 and b"did not arrive within" in answer


def test_large_but_reasonable_headers_and_keep_alive_still_work(frontend: Frontend) -> None:
    for _ in range(3):  # one kept-alive connection, each request with 30 KB of headers
        response = frontend.http.get("/healthz", headers={"X-Padding": "p" * 30_000})
        assert response.status_code == 200
