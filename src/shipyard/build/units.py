"""systemd units every Shipyard image carries, and offline enabling."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from shipyard.errors import BuildError


@dataclass(frozen=True)
class BootFile:
    path: str
    content: str
    mode: int = 0o644
    wanted_by: str | None = None  # target (or unit) whose .wants/ links this unit


GROWROOT_SCRIPT = r"""#!/bin/sh
# Grow the root partition and its ext4 filesystem to fill the disk (a volume larger
# than the image, as EC2 launches often give). Safe to run on every boot.
set -eu
source=$(findmnt -n -o SOURCE /)
case "$source" in /dev/*) ;; *) exit 0 ;; esac
part=$(basename "$(readlink -f "$source")")
disk=$(basename "$(readlink -f "/sys/class/block/$part/..")")
number=$(cat "/sys/class/block/$part/partition")
# Move the backup GPT to the end of a grown disk, then let the partition take the rest.
sfdisk --relocate gpt-bak-std "/dev/$disk" >/dev/null 2>&1 || true
before=$(cat "/sys/class/block/$part/size")
echo ", +" | sfdisk --no-reread --no-tell-kernel -q -N "$number" "/dev/$disk" \
    >/dev/null 2>&1 || true
partx --update --nr "$number" "/dev/$disk"
after=$(cat "/sys/class/block/$part/size")
if [ "$after" -gt "$before" ]; then
    echo "shipyard-growroot: /dev/$part grew from $before to $after sectors"
fi
resize2fs "/dev/$part" >/dev/null 2>&1 || true
"""

UNITS: tuple[BootFile, ...] = (
    # All three host keys before sshd starts. Making the RSA key after boot and reloading
    # sshd saved about 12 s to SSH under emulation (where RSA takes ~15 s of CPU; on real
    # hardware it takes a fraction of a second), but sshd refuses connections for the
    # moment a reload takes, and a client that connects just then fails.
    BootFile(
        "/etc/systemd/system/shipyard-ssh-keygen.service",
        """[Unit]
Description=Create this instance's SSH host keys
Before=ssh.service
ConditionPathExists=!/etc/ssh/ssh_host_ed25519_key

[Service]
Type=oneshot
ExecStart=/usr/bin/ssh-keygen -A

[Install]
WantedBy=ssh.service
""",
        wanted_by="ssh.service",
    ),
    BootFile("/usr/lib/shipyard/growroot", GROWROOT_SCRIPT, 0o755),
    BootFile(
        "/etc/systemd/system/shipyard-growroot.service",
        """[Unit]
Description=Grow the root partition and filesystem to fill the disk
DefaultDependencies=no
After=systemd-remount-fs.service
Before=local-fs.target shutdown.target
Conflicts=shutdown.target

[Service]
Type=oneshot
ExecStart=/usr/lib/shipyard/growroot
StandardOutput=journal+console

[Install]
WantedBy=local-fs.target
""",
        wanted_by="local-fs.target",
    ),
)


# Units a cloud instance has no use for, which would only compete for the CPU at boot:
# e2scrub_reap cleans up after e2scrub on LVM (there is none), modprobe@drm loads
# graphics drivers (there is no display).
MASKED: tuple[str, ...] = ("e2scrub_reap.service", "modprobe@drm.service")


def mask_unit(root: Path, unit: str) -> None:
    """What ``systemctl mask`` does, without running anything."""
    _point(root / "etc/systemd/system" / unit, Path("/dev/null"))


def enable_unit(root: Path, unit: str, wanted_by: str) -> None:
    """What ``systemctl enable`` does for a simple WantedBy=, without running anything."""
    for base in ("etc/systemd/system", "lib/systemd/system", "usr/lib/systemd/system"):
        if (root / base / unit).exists():
            target = Path("/") / base / unit
            break
    else:
        raise BuildError(f"cannot enable {unit}: the image has no such unit")
    _point(root / "etc/systemd/system" / f"{wanted_by}.wants" / unit, target)


def _point(link: Path, target: Path) -> None:
    """Make ``link`` a symlink to ``target``, replacing whatever is there."""
    link.parent.mkdir(parents=True, exist_ok=True)
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(target)
