"""KVM that looks present but cannot run guests: the probe sees it, the launcher recovers.

The qemu on PATH is ``tests/support/brokenkvm.py`` (see there): the real qemu for TCG,
a broken one for KVM, speaking real QMP.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from shipyard.errors import VMError
from shipyard.vm import accel, qemu, qmp

SUPPORT = Path(__file__).resolve().parent.parent / "support"

pytestmark = pytest.mark.skipif(
    shutil.which("qemu-system-x86_64") is None, reason="qemu is not installed"
)


@pytest.fixture
def broken_kvm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Put the broken qemu first on PATH, with the verdict kept in a fresh state folder."""
    monkeypatch.setenv("BROKEN_KVM_REAL", shutil.which("qemu-system-x86_64") or "")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    wrapper = bin_dir / "qemu-system-x86_64"
    wrapper.write_text(f'#!/bin/sh\nexec {sys.executable} {SUPPORT / "brokenkvm.py"} "$@"\n')
    wrapper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.delenv("SHIPYARD_ACCEL", raising=False)
    accel.verdict.cache_clear()
    yield
    accel.verdict.cache_clear()


@pytest.fixture
def empty_disk(tmp_path: Path) -> Path:
    disk = tmp_path / "disk.raw"
    disk.write_bytes(b"\0" * 1024 * 1024)
    return disk


def test_the_probe_refuses_kvm_whose_guest_stops_in_internal_error(broken_kvm: None) -> None:
    started = time.monotonic()
    found = accel.probe()
    assert not found.usable
    assert "internal-error" in found.reason
    assert "emulation failure" in found.reason  # qemu's own last words
    assert time.monotonic() - started < 8  # seen within seconds, not at the timeout


def test_the_probe_refuses_a_live_qemu_whose_firmware_prints_nothing(
    broken_kvm: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BROKEN_KVM", "stuck")
    found = accel.probe(seconds=3)
    assert not found.usable
    assert "printed nothing" in found.reason


def test_the_probe_accepts_firmware_that_prints(tmp_path: Path) -> None:
    # The real firmware under TCG stands in for a working KVM: what the probe needs to
    # see is the same (its first serial output with the guest "running").
    real = shutil.which("qemu-system-x86_64") or ""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    swap = 'case "$a" in kvm) a=tcg;; host) a=max;; esac'
    (bin_dir / "qemu-system-x86_64").write_text(
        f'#!/bin/sh\nfor a; do shift; {swap}; set -- "$@" "$a"; done\nexec {real} "$@"\n'
    )
    (bin_dir / "qemu-system-x86_64").chmod(0o755)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
        found = accel.probe(seconds=60)
    assert found.usable, found.reason


def test_a_guest_stopped_under_kvm_is_booted_again_under_tcg_and_remembered(
    broken_kvm: None, empty_disk: Path
) -> None:
    started = time.monotonic()
    with qemu.boot(empty_disk, firmware="bios", accel="kvm") as vm:
        assert vm.accelerator == "tcg"
        assert vm.alive()
        assert "internal-error" in vm.accel_note
        assert time.monotonic() - started < 20
        vm.kill()  # nothing in an empty disk answers ACPI power-down
    remembered = accel._load()
    assert remembered is not None and not remembered.usable
    assert "internal-error" in remembered.reason


def test_a_kvm_guest_without_console_progress_is_booted_again_under_tcg(
    broken_kvm: None, empty_disk: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BROKEN_KVM", "stuck")
    monkeypatch.setattr(qemu, "KVM_STALL_SECONDS", 2.0)
    with qemu.boot(empty_disk, firmware="bios", accel="kvm") as vm:
        assert vm.accelerator == "tcg"
        assert "no console progress" in vm.accel_note
        # The real qemu now runs the guest under TCG, no longer paused.
        deadline = time.monotonic() + 20
        while (state := qmp.run_state(vm.workdir / "qmp.sock")) is None:
            assert time.monotonic() < deadline
            time.sleep(0.2)
        assert state == "running"


def test_a_remembered_verdict_is_forgotten_when_the_host_reboots(
    broken_kvm: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    accel.mark_unusable("the guest stopped (internal-error)")
    assert accel._load() == accel.Verdict(False, "the guest stopped (internal-error)")
    boot_id = tmp_path / "boot_id"
    boot_id.write_text("another-boot\n")
    monkeypatch.setattr(accel, "BOOT_ID", boot_id)
    assert accel._load() is None


def test_a_guest_that_dies_ends_the_wait_at_once_with_qemus_message(
    broken_kvm: None, empty_disk: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BROKEN_KVM", "dies")
    with qemu.boot(empty_disk, firmware="bios", accel="tcg") as vm:
        started = time.monotonic()
        with pytest.raises(VMError, match="device lost"):
            vm.wait_for("login:", 300)
        assert time.monotonic() - started < 10
