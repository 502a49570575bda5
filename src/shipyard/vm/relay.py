"""Joins one guest connection to the host's metadata service (run by qemu's guestfwd).

qemu's ``guestfwd=...-cmd:`` starts this once per guest connection with that connection
as stdin/stdout. It is run as a script (``python -I -S relay.py PORT``) and imports only
the standard library, so it starts fast.
"""

from __future__ import annotations

import os
import selectors
import socket
import sys


def relay(port: int) -> None:
    guest_in, guest_out = sys.stdin.fileno(), sys.stdout.fileno()
    upstream = socket.create_connection(("127.0.0.1", port), timeout=30)
    upstream.settimeout(None)
    # Forward each piece as it comes: Nagle's algorithm would hold a piece back until the
    # service's delayed ACK of the previous one, 40 ms each time.
    upstream.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    selector = selectors.DefaultSelector()
    selector.register(guest_in, selectors.EVENT_READ, "guest")
    selector.register(upstream, selectors.EVENT_READ, "host")
    open_sides = 2
    while open_sides:
        for key, _ in selector.select():
            if key.data == "guest":
                data = os.read(guest_in, 65536)
                if not data:
                    selector.unregister(guest_in)
                    upstream.shutdown(socket.SHUT_WR)
                    open_sides -= 1
                else:
                    upstream.sendall(data)
            else:
                data = upstream.recv(65536)
                if not data:
                    return
                view = memoryview(data)
                while view:
                    view = view[os.write(guest_out, view) :]


if __name__ == "__main__":
    try:
        relay(int(sys.argv[1]))
    except OSError:
        sys.exit(1)
