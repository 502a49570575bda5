"""Run commands inside an image root, with /proc, /sys, /dev, /run and DNS.

Each call runs in its own mount and PID namespace (``unshare``): the mounts exist only
for that process tree and vanish with it, so a build that is killed, even with
SIGKILL, leaves no mount behind, and daemons a step starts die when the step ends.
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from shipyard.errors import ShipyardError
from shipyard.proc import run

# Runs as `sh -c SCRIPT sh ROOT RESOLV ARGV...` inside the new namespaces.
_SETUP = r"""
set -e
root=$1; resolv=$2; shift 2
mount -t proc proc "$root/proc"
mount --rbind /sys "$root/sys"
mount --make-rslave "$root/sys"
mount --rbind /dev "$root/dev"
mount --make-rslave "$root/dev"
mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs "$root/run"
mkdir -p "$root/run/systemd/resolve" "$root/run/lock"
cp "$resolv" "$root/run/systemd/resolve/stub-resolv.conf"
cp "$resolv" "$root/run/systemd/resolve/resolv.conf"
if [ ! -L "$root/etc/resolv.conf" ]; then
    touch "$root/etc/resolv.conf"
    mount --bind "$resolv" "$root/etc/resolv.conf"
fi
exec chroot "$root" "$@"
"""

CHROOT_ENV = {
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "DEBIAN_FRONTEND": "noninteractive",
    "DEBCONF_NONINTERACTIVE_SEEN": "true",
    "LC_ALL": "C.UTF-8",
    "LANG": "C.UTF-8",
    "HOME": "/root",
}


# Prefix for a command that gets its own mount and PID namespaces: the mounts it makes
# and the processes it starts end with it, however it ends.
ISOLATED = (
    "unshare",
    "--mount",
    "--propagation",
    "private",
    "--pid",
    "--fork",
    "--kill-child",
    "--",
)


def chroot_argv(root: Path, argv: Sequence[str]) -> list[str]:
    """The full command line that runs ``argv`` inside ``root``."""
    return [
        *ISOLATED,
        "sh",
        "-c",
        _SETUP,
        "sh",
        str(root),
        _host_resolv_conf(),
        *argv,
    ]


def run_in_root(
    root: Path,
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    input: str | bytes | None = None,
    error: type[ShipyardError] | None = None,
    what: str | None = None,
    timeout: float | None = None,
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` inside the image root and return what it printed."""
    # The chroot must not inherit the host's environment (a venv's PATH, the user's locale).
    full_env = dict(CHROOT_ENV)
    if env:
        full_env.update(env)
    return run(
        chroot_argv(root, argv),
        env=full_env,
        inherit_env=False,
        input=input,
        error=error,
        what=what,
        timeout=timeout,
        check=check,
    )


def _host_resolv_conf() -> str:
    for candidate in ("/run/systemd/resolve/resolv.conf", "/etc/resolv.conf"):
        if Path(candidate).is_file():
            return str(Path(candidate).resolve())
    return "/dev/null"
