"""Pick the accelerator: KVM when it really works, TCG otherwise."""

from __future__ import annotations

import logging
import os
from functools import cache

from shipyard.errors import ToolError, UsageError
from shipyard.proc import run

log = logging.getLogger("shipyard.vm")

QEMU = "qemu-system-x86_64"
ACCELERATORS = ("kvm", "tcg")
# A vCPU that KVM cannot run fails within moments (e.g. "failed to set MSR"); one that
# is still running after this long works.
PROBE_SECONDS = 1.5


def cpu_for(accel: str) -> str:
    return "host" if accel == "kvm" else "max"


def choose(requested: str | None = None) -> str:
    """The accelerator to use: ``requested`` (or $SHIPYARD_ACCEL), else what works here."""
    wanted = requested or os.environ.get("SHIPYARD_ACCEL") or None
    if wanted is not None:
        if wanted not in ACCELERATORS:
            raise UsageError(f"unknown accelerator {wanted!r}; expected kvm or tcg")
        return wanted
    return "kvm" if kvm_works() else "tcg"


@cache
def kvm_works() -> bool:
    """Whether /dev/kvm is usable and a vCPU really runs under it."""
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return False
    argv = [
        QEMU, "-accel", "kvm", "-cpu", "host", "-machine", "q35", "-nodefaults",
        "-display", "none", "-serial", "none", "-monitor", "none", "-m", "64",
    ]  # fmt: skip
    try:
        result = run(argv, check=False, timeout=PROBE_SECONDS)
    except ToolError as exc:
        # Still running when the probe ended: KVM works.
        return exc.returncode == -1
    first = (result.stderr.strip().splitlines() or ["exited"])[0]
    log.info("KVM is present but unusable here (%s); using TCG", first)
    return False
