"""A qemu-system-x86_64 whose KVM looks present but cannot run guests.

Installed on PATH by the ``broken_kvm`` fixture. Asked for KVM, it behaves as nested,
paravirtual KVM hosts were seen to, chosen by $BROKEN_KVM:

- ``internal-error``: qemu stays alive, prints KVM's emulation failure, and its monitor
  (real QMP over the -qmp socket) reports the run state ``internal-error``;
- ``stuck``: the real qemu, under TCG but started paused (-S): alive, "prelaunch",
  never a byte on the console, as a guest hung after its boot loader looks;
- ``dies``: prints an error after a moment and exits, whatever the accelerator.

Anything not asked for KVM runs the real qemu unchanged.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time

REAL_QEMU = os.environ.get("BROKEN_KVM_REAL", "/usr/bin/qemu-system-x86_64")


def _wants_kvm(argv: list[str]) -> bool:
    return any(a == "kvm" or "accel=kvm" in a for a in argv)


def _option(argv: list[str], name: str) -> str | None:
    return argv[argv.index(name) + 1] if name in argv else None


def _serve_qmp(path: str, state: str) -> None:
    """Answer QMP on ``path`` the way qemu does, reporting ``state``, until powered down."""
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(4)
    server.settimeout(120)  # never outlive the test by much
    greeting = {
        "QMP": {"version": {"qemu": {"major": 7, "minor": 2, "micro": 0}}, "capabilities": []}
    }
    while True:
        try:
            conn, _ = server.accept()
        except TimeoutError:
            return
        with conn:
            stream = conn.makefile("rwb")
            stream.write(json.dumps(greeting).encode() + b"\r\n")
            stream.flush()
            for line in stream:
                name = json.loads(line).get("execute")
                if name == "query-status":
                    reply = {"return": {"status": state, "singlestep": False, "running": False}}
                else:
                    reply = {"return": {}}
                stream.write(json.dumps(reply).encode() + b"\r\n")
                stream.flush()
                if name in ("system_powerdown", "quit"):
                    return


def main(argv: list[str]) -> None:
    mode = os.environ.get("BROKEN_KVM", "internal-error")
    if mode == "dies":
        time.sleep(1.0)
        print("qemu-system-x86_64: vhost-net: device lost (injected)", file=sys.stderr)
        sys.exit(1)
    if not _wants_kvm(argv):
        os.execv(REAL_QEMU, [REAL_QEMU, *argv])
    if mode == "stuck":
        args = [a.replace("accel=kvm", "accel=tcg") if "accel=kvm" in a else a for a in argv]
        args = ["tcg" if a == "kvm" else a for a in args]
        args = ["max" if a == "host" else a for a in args]
        os.execv(REAL_QEMU, [REAL_QEMU, *args, "-S"])
    print("KVM internal error. Suberror: 1", file=sys.stderr)
    print("emulation failure", file=sys.stderr)
    sys.stderr.flush()
    monitor = _option(argv, "-qmp") or ""
    path = monitor.removeprefix("unix:").split(",")[0]
    _serve_qmp(path, "internal-error")


if __name__ == "__main__":
    main(sys.argv[1:])
