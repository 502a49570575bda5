"""Pick the accelerator: KVM when a guest really runs under it, TCG otherwise.

A live qemu process proves nothing: on some hosts (nested, paravirtual "kvm-pvm") qemu
starts, the guest stops inside the firmware with "KVM internal error ... emulation
failure", and the process stays alive. So the probe boots the real firmware under KVM
and asks for proof that guest code runs: the firmware's first serial output, with qemu's
run state (over QMP) still "running". The verdict is kept per host boot (keyed by the
kernel's boot id), because a host's KVM does not change until it reboots; the VM
launcher records a KVM failure it sees later in the same place.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path

from shipyard import paths
from shipyard.errors import UsageError, VMError
from shipyard.files import write_atomic
from shipyard.proc import start
from shipyard.vm import qmp
from shipyard.vm.firmware import find_ovmf, firmware_args

log = logging.getLogger("shipyard.vm")

QEMU = "qemu-system-x86_64"
ACCELERATORS = ("kvm", "tcg")
# OVMF prints its boot manager's first line after about 1 s under KVM (5.5 s under TCG
# here); a firmware that has printed nothing after this long is not running.
PROBE_SECONDS = 10.0
BOOT_ID = Path("/proc/sys/kernel/random/boot_id")


@dataclass(frozen=True)
class Verdict:
    """Whether KVM runs guests on this host, and why we think so."""

    usable: bool
    reason: str


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


def kvm_works() -> bool:
    """Whether a guest really runs under KVM on this host."""
    return verdict().usable


@cache
def verdict() -> Verdict:
    """This host's verdict on KVM: remembered since the host booted, else probed now."""
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return Verdict(False, "/dev/kvm is missing or not accessible")
    remembered = _load()
    if remembered is not None:
        return remembered
    found = probe()
    _save(found)
    if not found.usable:
        log.info("KVM is present but unusable here (%s); using TCG", found.reason)
    return found


def mark_unusable(reason: str) -> None:
    """Record that a guest failed under KVM, so later runs on this host go straight to TCG."""
    verdict.cache_clear()
    _save(Verdict(False, reason))


def probe(seconds: float = PROBE_SECONDS) -> Verdict:
    """Boot the firmware (OVMF if installed, else SeaBIOS) under KVM and watch it."""
    with tempfile.TemporaryDirectory(prefix="shipyard-kvm-probe-") as tmp:
        workdir = Path(tmp)
        try:
            find_ovmf()
            firmware = firmware_args("uefi", workdir)
        except VMError:
            firmware = []  # SeaBIOS, qemu's default
        serial, monitor, output = workdir / "serial", workdir / "qmp.sock", workdir / "qemu.log"
        argv = [
            QEMU, "-accel", "kvm", "-cpu", "host", "-machine", "q35,graphics=off",
            "-nodefaults", "-display", "none", "-m", "128", "-no-reboot", *firmware,
            "-serial", f"file:{serial}", "-qmp", f"unix:{monitor},server=on,wait=off",
        ]  # fmt: skip
        process = start(argv, output=output, error=VMError, what="probe KVM")
        try:
            deadline = time.monotonic() + seconds
            while True:
                if process.poll() is not None:
                    return Verdict(False, f"qemu exited: {last_message(output)}")
                state = qmp.run_state(monitor) if monitor.exists() else None
                if state in qmp.STOPPED_STATES:
                    return Verdict(False, f"the guest stopped ({state}): {last_message(output)}")
                if state == "running" and serial.exists() and serial.stat().st_size > 0:
                    return Verdict(True, "the firmware ran under KVM")
                if time.monotonic() > deadline:
                    return Verdict(
                        False, f"the firmware printed nothing within {seconds:g} s under KVM"
                    )
                time.sleep(0.1)
        finally:
            if process.poll() is None:
                process.kill()
            process.wait()


def last_message(log_file: Path) -> str:
    """qemu's last line of output, for saying why a guest stopped."""
    try:
        lines = log_file.read_text(errors="replace").strip().splitlines()
    except OSError:
        lines = []
    return lines[-1].strip()[:300] if lines else "no message"


def _verdict_file() -> Path:
    return paths.state_dir() / "kvm.json"


def _boot_id() -> str:
    try:
        return BOOT_ID.read_text().strip()
    except OSError:
        return "unknown"


def _load() -> Verdict | None:
    try:
        doc = json.loads(_verdict_file().read_text())
        if doc.get("boot_id") != _boot_id():
            return None  # the host rebooted: its KVM may differ now
        return Verdict(bool(doc["usable"]), str(doc["reason"]))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def _save(found: Verdict) -> None:
    path = _verdict_file()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, json.dumps({"boot_id": _boot_id(), **asdict(found)}) + "\n")
    except OSError as exc:  # a read-only home only costs a probe per process
        log.debug("cannot remember the KVM verdict in %s: %s", path, exc)
