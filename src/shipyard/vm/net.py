"""The guest's network: user-mode (slirp) NICs, SSH forwarded, IMDS at 169.254.169.254.

slirp only intercepts guest connections (guestfwd) to addresses inside its own virtual
network, and refuses a rule for 169.254.169.254 on the usual 10.0.2.0/24. So the guest
gets two NICs: one on the link-local 169.254.0.0/16, where a guestfwd rule sends each
connection to 169.254.169.254:80 through a small relay to this VM's metadata service,
and one on 10.0.2.0/24 (host at 10.0.2.2, SSH forwarded to a loopback port).
The guest sees 169.254.169.254 on-link, as EC2's metadata address is.
"""

from __future__ import annotations

import secrets
import shlex
import socket
import sys
from dataclasses import dataclass
from pathlib import Path

import shipyard.vm.relay

IMDS_ADDRESS = "169.254.169.254"
MAIN_NET = "10.0.2.0/24"
METADATA_NET = "169.254.0.0/16"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def random_mac() -> str:
    return "52:54:00:" + ":".join(f"{b:02x}" for b in secrets.token_bytes(3))


@dataclass(frozen=True)
class Network:
    ssh_port: int
    imds_port: int
    mac: str
    # (host port on 127.0.0.1, guest port): more services of the guest, as ssh is.
    forwards: tuple[tuple[int, int], ...] = ()

    def args(self) -> list[str]:
        relay = " ".join(
            shlex.quote(part)
            for part in (
                sys.executable,
                "-I",
                "-S",
                shipyard.vm.relay.__file__,
                str(self.imds_port),
            )
        )
        if "," in relay:
            relay = relay.replace(",", ",,")  # qemu's option syntax escapes commas by doubling
        # The metadata link comes first on the bus: software that brings up only the
        # first interface early in boot (cloud-init's local stage) then reaches IMDS.
        return [
            "-netdev",
            f"user,id=meta,net={METADATA_NET},guestfwd=tcp:{IMDS_ADDRESS}:80-cmd:{relay}",
            "-device", f"virtio-net-pci,netdev=meta,mac={random_mac()}",
            "-netdev",
            f"user,id=net0,net={MAIN_NET},hostfwd=tcp:127.0.0.1:{self.ssh_port}-:22"
            + "".join(f",hostfwd=tcp:127.0.0.1:{h}-:{g}" for h, g in self.forwards),
            "-device", f"virtio-net-pci,netdev=net0,mac={self.mac}",
        ]  # fmt: skip


def ssh_command(user: str, port: int, key: Path | None = None) -> str:
    """A ready-to-paste ssh command line for the forwarded port."""
    parts = ["ssh", "-p", str(port)]
    if key is not None:
        parts += ["-i", str(key)]
    parts += ["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null"]
    return shlex.join([*parts, f"{user}@127.0.0.1"])
