"""Port arguments are refused before a server announces a port it will not listen on."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.parametrize(
    "argv",
    [
        ["aws", "local", "--port", "99999"],
        ["aws", "local", "--port", "0"],
        ["aws", "local", "--port", "http"],
        ["imds", "serve", "--port", "70000"],
        ["imds", "serve", "--port", "-1"],
    ],
)
def test_an_impossible_port_is_refused_before_listening(argv: list[str]) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "shipyard.cli.main", *argv],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "--port" in done.stderr
    assert "not a port number" in done.stderr
    assert "Traceback" not in done.stderr
    assert "listening" not in done.stderr and "endpoint on" not in done.stderr


@pytest.mark.parametrize("command", [["frontend", "serve"], ["catalog", "serve"]])
@pytest.mark.parametrize(
    ("listen", "says"),
    [
        ("localhost:8470", "is not IP:PORT"),
        ("127.0.0.1", "is not IP:PORT"),
        ("[::1]", "is not IP:PORT"),
        ("127.0.0.1:0", "not a port number"),
        ("127.0.0.1:x", "not a port number"),
    ],
)
def test_both_servers_refuse_the_same_bad_listen_addresses(
    command: list[str], listen: str, says: str
) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "shipyard.cli.main", *command, "--listen", listen],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "--listen" in done.stderr and says in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("text", "host", "port"), [("127.0.0.1:8470", "127.0.0.1", 8470), ("[::1]:9000", "::1", 9000)]
)
def test_listen_addresses_keep_host_and_port(text: str, host: str, port: int) -> None:
    from shipyard.cli.argtypes import listen_address

    address = listen_address(text)
    assert (address.host, address.port) == (host, port)
    assert str(address) == text
