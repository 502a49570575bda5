"""Just enough of QMP (qemu's monitor protocol) to power a guest down and ask its state."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

# Run states (QMP's RunState) in which the guest will make no more progress by itself.
# "internal-error" is what KVM reports when it cannot run the guest (e.g. nested,
# paravirtual KVM failing to emulate an instruction inside the firmware).
STOPPED_STATES = frozenset({"internal-error", "guest-panicked", "io-error", "shutdown"})

# A reply is one JSON line; a monitor that sends more than this is not one we speak to.
MAX_REPLY = 64 * 1024


def execute(path: Path, name: str, timeout: float = 5.0) -> Any:
    """Run QMP command ``name`` on the monitor socket at ``path``; its ``return`` value.

    Raises OSError when the monitor cannot be reached or answers with an error.
    """
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(str(path))
        stream = sock.makefile("rwb")
        stream.readline(MAX_REPLY)  # greeting
        result: Any = None
        for command_name in ("qmp_capabilities", name):
            stream.write(json.dumps({"execute": command_name}).encode() + b"\n")
            stream.flush()
            while True:
                line = stream.readline(MAX_REPLY)
                if not line:
                    raise OSError(f"the monitor closed the connection during {command_name}")
                try:
                    reply = json.loads(line)
                except ValueError as exc:
                    raise OSError(f"the monitor sent something that is not JSON: {exc}") from exc
                if not isinstance(reply, dict):
                    continue
                if "error" in reply:
                    desc = (
                        reply["error"].get("desc", "error")
                        if isinstance(reply["error"], dict)
                        else "error"
                    )
                    raise OSError(f"{command_name}: {desc}")
                if "return" in reply:
                    result = reply["return"]
                    break  # anything else is an asynchronous event
        return result


def command(path: Path, name: str, timeout: float = 5.0) -> None:
    """Run QMP command ``name`` on the monitor socket at ``path``."""
    execute(path, name, timeout)


def run_state(path: Path, timeout: float = 2.0) -> str | None:
    """The guest's run state ("running", "internal-error", ...), or None if unknown."""
    try:
        status = execute(path, "query-status", timeout)
    except (OSError, ValueError):
        return None
    return str(status.get("status")) if isinstance(status, dict) else None
