"""Argument types shared by every command, so a bad value is refused before any work starts."""

from __future__ import annotations

import argparse
import ipaddress
import socket
from dataclasses import dataclass

from shipyard.errors import ServeError


def port_number(text: str) -> int:
    """A TCP port, 1-65535; 0 is refused, as the server would announce a port it does not use."""
    try:
        port = int(text, 10)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a port number (1-65535)")
    return port


def port_or_any(text: str) -> int:
    """A TCP port, or 0 for any free port."""
    if text.strip() == "0":
        return 0
    return port_number(text)


@dataclass(frozen=True)
class ListenAddress:
    """Where a server listens: an IP address (v4 or v6) and a port."""

    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def listen_address(text: str) -> ListenAddress:
    """IP:PORT or [IPv6]:PORT, as every server's --listen takes it."""
    host, _, port = text.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not IP:PORT (an IP address such as 127.0.0.1 or [::1], and a port)"
        ) from None
    return ListenAddress(host, port_number(port))


def ensure_free(host: str, port_number: int) -> None:
    """ServeError (exit 3) if ``host:port`` cannot be bound, before anything says "listening"."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port_number))
        except OSError as exc:
            reason = (exc.strerror or type(exc).__name__).lower()
            raise ServeError(
                f"cannot listen on {host}:{port_number}: {reason}",
                hint="choose another port with --port",
            ) from exc


def forward(text: str) -> tuple[int, int]:
    """``GUEST`` or ``HOST:GUEST`` → (host port, or 0 for any free one; guest port)."""
    host, sep, guest = text.rpartition(":")
    return (port_number(host) if sep else 0, port_number(guest))


def tag(text: str) -> tuple[str, str]:
    """``KEY=VALUE``, a tag EC2 would serve as instance metadata."""
    from shipyard.vm.metadata import tag_problem

    key, sep, value = text.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError(f"{text!r} is not KEY=VALUE")
    if problem := tag_problem(key, value):
        raise argparse.ArgumentTypeError(problem)
    return key, value


def role_name(text: str) -> str:
    """An IAM role name: 1-64 of letters, digits and + = , . @ _ -."""
    if not 1 <= len(text) <= 64 or not all(
        c.isascii() and (c.isalnum() or c in "+=,.@_-") for c in text
    ):
        raise argparse.ArgumentTypeError(f"{text!r} is not an IAM role name")
    return text
