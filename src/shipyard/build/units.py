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
# Nothing to do unless the disk has room past the partition's end (the image leaves less
# than a MiB there for alignment and the backup GPT): most boots exit here, at once.
end=$(( $(cat "/sys/class/block/$part/start") + $(cat "/sys/class/block/$part/size") ))
[ $(( $(cat "/sys/class/block/$disk/size") - end )) -ge 8192 ] || exit 0
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

HOST_KEYS_SCRIPT = """#!/bin/sh
# This instance's own SSH host keys, made at first boot: none ship in the image.
set -eu
for type in {types}; do
    key=/etc/ssh/ssh_host_${{type}}_key
    [ -s "$key" ] || ssh-keygen -q -t "$type" -N "" -f "$key"
done
"""

# Early, beside the rest of the early boot rather than after basic.target: it needs only
# a writable root, and sshd waits for it.
HOST_KEYS_UNIT = """[Unit]
Description=Create this instance's SSH host keys
DefaultDependencies=no
After=systemd-remount-fs.service
Before=ssh.service shutdown.target
Conflicts=shutdown.target
{conditions}
[Service]
Type=oneshot
ExecStart=/usr/lib/shipyard/ssh-host-keys

[Install]
WantedBy=ssh.service
"""


def host_key_files(types: tuple[str, ...]) -> tuple[BootFile, ...]:
    """The first-boot script and unit that make host keys of ``types`` before sshd starts.

    sshd is told to use exactly these (``HostKey`` lines, see :func:`sshd_host_keys`), so
    a type left out is not looked for.
    """
    return (
        BootFile(
            "/usr/lib/shipyard/ssh-host-keys", HOST_KEYS_SCRIPT.format(types=" ".join(types)), 0o755
        ),
        BootFile(
            "/etc/systemd/system/shipyard-ssh-keygen.service",
            HOST_KEYS_UNIT.format(conditions=_any_missing(types)),
            wanted_by="ssh.service",
        ),
    )


def _any_missing(types: tuple[str, ...]) -> str:
    """Triggering conditions (``|``): the unit runs when any of the keys is missing."""
    return "".join(f"ConditionPathExists=|!/etc/ssh/ssh_host_{t}_key\n" for t in types)


def sshd_host_keys(types: tuple[str, ...]) -> str:
    return "".join(f"HostKey /etc/ssh/ssh_host_{t}_key\n" for t in types)


UNITS: tuple[BootFile, ...] = (
    # Debian's unit runs `sshd -t` before sshd itself, which checks the same
    # configuration again as it starts and fails the unit the same way: under emulation
    # the extra run is a third of a second on the way to multi-user.target. Reloads
    # still test first (ExecReload is left as it is).
    BootFile("/etc/systemd/system/ssh.service.d/50-shipyard.conf", "[Service]\nExecStartPre=\n"),
    BootFile("/usr/lib/shipyard/growroot", GROWROOT_SCRIPT, 0o755),
    # Ordered before nothing but shutdown: ext4 grows online while the system runs, so
    # the boot need not wait for it (units that want the full size order after it).
    BootFile(
        "/etc/systemd/system/shipyard-growroot.service",
        """[Unit]
Description=Grow the root partition and filesystem to fill the disk
DefaultDependencies=no
After=systemd-remount-fs.service
Before=shutdown.target
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
# graphics drivers (there is no display). The other modprobe@ units load, at every boot,
# modules the kernel loads by itself on first use of their device node (loop, fuse,
# device mapper) or that only matter with EFI variables to spare (pstore).
MASKED: tuple[str, ...] = (
    "e2scrub_reap.service",
    "modprobe@drm.service",
    "modprobe@dm_mod.service",
    "modprobe@efi_pstore.service",
    "modprobe@fuse.service",
    "modprobe@loop.service",
)


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
