"""Argument types shared by every command, so a bad value is refused before any work starts."""

from __future__ import annotations

import argparse
import socket

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
