"""Ansible's connection into an image root, through Shipyard's own chroot.

Every command runs the way a provision step does (its own mount and PID namespaces,
/proc, /sys, /dev and DNS, nothing left mounted afterwards). Files go in and out through
a command run inside the chroot, never through the host's view of the tree, so an
absolute symlink in the image (``/etc/x -> /etc/hostname``) resolves inside the image
and cannot make Ansible write to, or read from, the build host.

The image root comes from ``SHIPYARD_IMAGE_ROOT``, set by the build for ansible-playbook.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any

from ansible.errors import AnsibleConnectionFailure, AnsibleError
from ansible.plugins.connection import ConnectionBase

from shipyard.build.chroot import run_in_root

DOCUMENTATION = """
    name: shipyard_chroot
    short_description: run tasks inside a Shipyard image root
    description:
        - Runs each command through Shipyard's chroot (namespaces, mounts, cleanup).
        - Transfers files through commands run inside the chroot.
    author: Shipyard
    extends_documentation_fragment:
        - connection_pipelining
"""

ROOT_VARIABLE = "SHIPYARD_IMAGE_ROOT"
# What every command inside the image sees besides Shipyard's usual chroot environment:
# systemctl edits unit links instead of asking a systemd that is not running.
IMAGE_ENV = {"SYSTEMD_OFFLINE": "1"}
# Writes standard input to the file named by $1, inside the chroot.
_WRITE = 'cat > "$1"'


class Connection(ConnectionBase):
    """Commands and file transfers into the image root, all inside the chroot."""

    transport = "shipyard_chroot"
    has_pipelining = True
    has_tty = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        root = os.environ.get(ROOT_VARIABLE, "")
        if not root or not Path(root, "bin").exists():
            raise AnsibleConnectionFailure(f"{ROOT_VARIABLE} does not name an image root")
        self.root = Path(root)

    def _connect(self) -> Connection:
        self._connected = True
        return self

    def exec_command(
        self, cmd: str, in_data: bytes | None = None, sudoable: bool = False
    ) -> tuple[int, bytes, bytes]:
        super().exec_command(cmd, in_data=in_data, sudoable=sudoable)
        result = run_in_root(
            self.root, ["/bin/sh", "-c", cmd], env=IMAGE_ENV, input=in_data, check=False
        )
        return result.returncode, result.stdout.encode(), result.stderr.encode()

    def put_file(self, in_path: str, out_path: str) -> None:
        super().put_file(in_path, out_path)
        data = Path(in_path).read_bytes()
        result = run_in_root(
            self.root, ["/bin/sh", "-c", _WRITE, "sh", out_path], input=data, check=False
        )
        if result.returncode != 0:
            raise AnsibleError(f"cannot write {out_path} in the image: {result.stderr.strip()}")

    def fetch_file(self, in_path: str, out_path: str) -> None:
        super().fetch_file(in_path, out_path)
        # base64 keeps binary files whole through a text pipe.
        result = run_in_root(self.root, ["base64", "--", in_path], check=False)
        if result.returncode != 0:
            raise AnsibleError(f"cannot read {in_path} in the image: {result.stderr.strip()}")
        Path(out_path).write_bytes(base64.b64decode(result.stdout))

    def close(self) -> None:
        self._connected = False
