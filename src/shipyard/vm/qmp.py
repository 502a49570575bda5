"""Just enough of QMP (qemu's monitor protocol) to ask a guest to power down."""

from __future__ import annotations

import json
import socket
from pathlib import Path


def command(path: Path, name: str, timeout: float = 5.0) -> None:
    """Run QMP command ``name`` on the monitor socket at ``path``."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(str(path))
        stream = sock.makefile("rwb")
        stream.readline()  # greeting
        for execute in ("qmp_capabilities", name):
            stream.write(json.dumps({"execute": execute}).encode() + b"\n")
            stream.flush()
            while True:
                reply = json.loads(stream.readline() or b"{}")
                if "return" in reply or "error" in reply or not reply:
                    break
