"""`shipyard catalog serve` against hostile clients on raw sockets."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from awsloop import free_port
from slowclients import dribbled_head, open_stalled, oversized_head, status_of, still_open_after


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    """The real command serving an empty store on loopback; its base URL."""
    port = free_port()
    argv = [sys.executable, "-m", "shipyard.cli.main", "catalog", "serve"]
    server = subprocess.Popen(
        [*argv, "--store", str(tmp_path / "store"), "--listen", f"127.0.0.1:{port}"],
        env=dict(os.environ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{url}/openapi.json", timeout=2)
                break
            except httpx.HTTPError:
                assert server.poll() is None and time.monotonic() < deadline, "server died"
                time.sleep(0.2)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def test_an_8_mb_header_is_refused_with_431(served: str) -> None:
    answer = oversized_head(port_of(served))
    assert status_of(answer) == 431
    assert answer.endswith(b"are larger than 65536 bytes\n")
    assert httpx.get(f"{served}/openapi.json").status_code == 200


def test_half_heads_and_silent_connections_are_closed(served: str) -> None:
    stalled = open_stalled(port_of(served), half=50, silent=1)
    assert still_open_after(stalled) == 0
    assert httpx.get(f"{served}/openapi.json").status_code == 200


def test_a_head_sent_a_byte_at_a_time_gets_408(served: str) -> None:
    answer = dribbled_head(port_of(served))
    assert status_of(answer) == 408 and b"did not arrive within" in answer
