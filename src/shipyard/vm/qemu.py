"""Boot a disk image under qemu as an EC2-like instance; the reusable VM launcher.

``boot(image, ...)`` is a context manager: it puts a qcow2 overlay over the image (the
image itself is never written), starts this VM's metadata service and qemu, and yields a
:class:`VM`. Leaving the block powers the guest down (then kills qemu if it lingers) and
removes what was created, unless asked to keep it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from shipyard.cleanup import Cleanup, cleanup_scope
from shipyard.errors import VMError
from shipyard.proc import run, start
from shipyard.vm import accel as accel_mod
from shipyard.vm import console, qmp
from shipyard.vm.firmware import firmware_args
from shipyard.vm.identity import Signer, load_signer
from shipyard.vm.imds import ImdsBehaviour, ImdsServer, serve
from shipyard.vm.metadata import Instance
from shipyard.vm.net import Network, free_port

log = logging.getLogger("shipyard.vm")

# How often a waiting launcher asks qemu for the guest's run state.
TROUBLE_INTERVAL = 1.0
# Under KVM a guest goes from the boot loader to the kernel's first console line in a
# second or two; one that shows no console progress for this long is stuck (seen on
# nested KVM hosts: GRUB starts under SeaBIOS, then the kernel hangs with qemu "running").
KVM_STALL_SECONDS = 15.0
# A console line from the booted system, not the firmware or the boot loader: the
# kernel's timestamped lines, the agent's reports, a login prompt, cloud-init.
OS_PROGRESS = re.compile(r"\[\s*\d+\.\d+\]|shipyard-agent: |login: |Cloud-init v\.")


# What the guest sees: an EC2 Nitro instance, or a generic qemu machine.
Machine = Literal["nitro", "generic"]


@dataclass
class VM:
    """A running guest: its console log, forwarded SSH port and metadata service."""

    process: subprocess.Popen[bytes]
    workdir: Path
    overlay: Path
    console_log: Path
    ssh_port: int
    accelerator: str
    firmware: str
    instance: Instance
    imds: ImdsServer
    started: float  # time.monotonic() when qemu started
    accel_note: str = ""  # why this accelerator, for the user
    _checked: float = 0.0  # when trouble() last asked qemu for the run state

    def alive(self) -> bool:
        return self.process.poll() is None

    def trouble(self) -> str | None:
        """Why the guest will make no more progress (qemu gone, or stopped), else None."""
        if not self.alive():
            return f"qemu exited: {accel_mod.last_message(self.workdir / 'qemu.log')}"
        now = time.monotonic()
        if now - self._checked < TROUBLE_INTERVAL:
            return None
        self._checked = now
        state = qmp.run_state(self.workdir / "qmp.sock")
        if state in qmp.STOPPED_STATES:
            return (
                f"the guest stopped ({state}): {accel_mod.last_message(self.workdir / 'qemu.log')}"
            )
        return None

    def console_text(self) -> str:
        return console.read_text(self.console_log)

    def wait_for(self, pattern: str | re.Pattern[str], timeout: float) -> re.Match[str]:
        """Wait until the serial console shows ``pattern``."""
        return console.wait_for(self.console_log, pattern, timeout, trouble=self.trouble)

    def wait_exit(self, timeout: float) -> int:
        """Wait for qemu to end (the guest powered off); its exit code."""
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise VMError(
                f"the VM did not power off within {timeout:g} s",
                hint=f"see the console log {self.console_log}",
            ) from None

    def wait_ready(self, timeout: float, agent: str = "shipyard") -> dict[str, Any]:
        """The agent's closing report (``ready`` or ``failed``).

        For cloud-init, its "finished" line stands for ``ready`` (with its own uptime).
        """
        if agent == "cloud-init":
            match = self.wait_for(console.CLOUD_INIT_FINISHED, timeout)
            found = match[1] != "DataSourceNone"  # it gave up on the metadata service
            return {
                "step": "ready" if found else "failed",
                "ok": found,
                "agent": agent,
                "datasource": match[1],
                "uptime": float(match[2]),
            }
        if agent != "shipyard":
            raise VMError(f"an image with agent: {agent} reports no readiness to wait for")
        self.wait_for(console.AGENT_FINAL, timeout)
        report = console.final_report(self.console_text())
        assert report is not None
        return report

    def agent_reports(self) -> list[dict[str, Any]]:
        return console.agent_reports(self.console_text())

    def stop(self, timeout: float = 30.0) -> int:
        """Power the guest down (ACPI), killing qemu if it does not stop in time."""
        if self.alive():
            try:
                qmp.command(self.workdir / "qmp.sock", "system_powerdown")
                return self.process.wait(timeout=timeout)
            except (OSError, ValueError, subprocess.TimeoutExpired) as exc:
                log.info("the guest did not power down (%s); stopping qemu", exc)
            self.kill()
        return self.process.wait()

    def kill(self) -> None:
        if self.alive():
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def image_virtual_size(image: Path) -> int:
    info = run(["qemu-img", "info", "--output=json", image], error=VMError, what="read the image")
    return int(json.loads(info.stdout)["virtual-size"])


def prepare_overlay(image: Path, overlay: Path, disk_size: int | None) -> None:
    """A qcow2 overlay backed by ``image`` (created once), grown to ``disk_size``."""
    if not overlay.exists():
        run(
            ["qemu-img", "create", "-q", "-f", "qcow2", "-F", _format(image),
             "-b", image.resolve(), overlay],
            error=VMError,
            what="create the disk overlay",
        )  # fmt: skip
    if disk_size is not None:
        current = image_virtual_size(overlay)
        if disk_size < current:
            raise VMError(
                f"{disk_size} bytes is smaller than the disk ({current} bytes)",
                setting="disk_size",
            )
        if disk_size > current:
            run(["qemu-img", "resize", "-q", overlay, str(disk_size)], error=VMError,
                what="grow the disk overlay")  # fmt: skip


def _format(image: Path) -> str:
    return "qcow2" if image.suffix == ".qcow2" else "raw"


def qemu_argv(
    *,
    accel: str,
    firmware: str,
    workdir: Path,
    overlay: Path,
    console_log: Path,
    network: Network,
    instance: Instance,
    memory: int,
    cpus: int,
    machine: Machine = "nitro",
) -> list[str]:
    # EC2's SMBIOS identity, so identification code sees AWS: cloud-init wants a system
    # UUID starting with "ec2" that equals the system serial number, as on Nitro instances.
    system_uuid = "ec2" + str(uuid.uuid4())[3:]
    if machine == "nitro":
        # The root volume on NVMe, as EBS is on Nitro instances, with a volume id for serial.
        manufacturer = "Amazon EC2"
        disk = ["-device", f"nvme,drive=root,serial={_volume_id(instance)}"]
    else:
        manufacturer = "QEMU"
        disk = ["-device", "virtio-blk-pci,drive=root"]
    return [
        accel_mod.QEMU,
        "-name", instance.instance_id,
        "-machine", f"q35,accel={accel}",
        "-cpu", accel_mod.cpu_for(accel),
        "-m", str(memory),
        "-smp", str(cpus),
        "-nodefaults",
        "-display", "none",
        *firmware_args(firmware, workdir),
        "-smbios",
        f"type=1,manufacturer={manufacturer},product={instance.instance_type},"
        f"uuid={system_uuid},serial={system_uuid}",
        "-drive", f"file={overlay},if=none,id=root,format=qcow2,discard=unmap,cache=unsafe",
        *disk,
        *network.args(),
        "-device", "virtio-rng-pci",
        "-serial", f"file:{console_log}",
        "-qmp", f"unix:{workdir / 'qmp.sock'},server=on,wait=off",
    ]  # fmt: skip


@contextmanager
def boot(
    image: Path,
    *,
    firmware: str = "uefi",
    disk_size: int | None = None,
    user_data: bytes | None = None,
    ssh_keys: tuple[str, ...] = (),
    instance: Instance | None = None,
    workdir: Path | None = None,
    memory: int = 1024,
    cpus: int = 2,
    accel: str | None = None,
    signer: Signer | None = None,
    imds_settings: ImdsBehaviour | None = None,
    keep: bool = False,
    forwards: tuple[tuple[int, int], ...] = (),
    machine: Machine = "nitro",
) -> Iterator[VM]:
    """Boot ``image`` (raw or qcow2); yields the running :class:`VM`.

    ``workdir`` holds the overlay, console log and firmware variables; passing the same
    one (and ``instance``) again boots the same disk again, as a reboot would. Without
    one, a temporary directory is used and removed afterwards. ``machine`` is what the
    guest sees: a Nitro instance (NVMe root, EC2's SMBIOS) or a generic qemu machine
    (virtio root).
    """
    if not image.is_file():
        raise VMError(f"{image}: no such disk image")
    with cleanup_scope() as cleanup, ExitStack() as stack:
        if workdir is None:
            workdir = cleanup.tempdir(prefix="shipyard-vm-")
        workdir.mkdir(parents=True, exist_ok=True)
        overlay = workdir / "disk.qcow2"
        new_overlay = not overlay.exists()
        prepare_overlay(image, overlay, disk_size)
        if new_overlay and not keep:
            cleanup.register(
                f"overlay {overlay}", lambda: overlay.unlink(missing_ok=True), always=True
            )
        chosen = accel_mod.choose(accel)
        if instance is None:
            instance = Instance(
                user_data=user_data, public_keys=ssh_keys, image_id=_image_id(image)
            )
        imds = stack.enter_context(serve(instance, signer or load_signer(), settings=imds_settings))
        network = Network(
            ssh_port=free_port(), imds_port=imds.port, mac=instance.mac, forwards=forwards
        )
        console_log = workdir / "console.log"
        console_log.unlink(missing_ok=True)
        argv = qemu_argv(
            accel=chosen, firmware=firmware, workdir=workdir, overlay=overlay,
            console_log=console_log, network=network, instance=instance,
            memory=memory, cpus=cpus, machine=machine,
        )  # fmt: skip
        process = _start(argv, workdir, cleanup)
        guest = VM(
            process=process,
            workdir=workdir,
            overlay=overlay,
            console_log=console_log,
            ssh_port=network.ssh_port,
            accelerator=chosen,
            firmware=firmware,
            instance=instance,
            imds=imds,
            started=time.monotonic(),
            accel_note=_accel_note(chosen, asked=bool(accel or os.environ.get("SHIPYARD_ACCEL"))),
        )
        if chosen == "kvm" and (trouble := _kvm_trouble(guest)) is not None:
            # The guest cannot run under KVM here: say why once, remember it for this
            # host, and boot the same disk again under TCG.
            log.warning("the guest did not run under KVM (%s); booting again under TCG", trouble)
            accel_mod.mark_unusable(trouble)
            guest.kill()
            if new_overlay:
                overlay.unlink(missing_ok=True)
                prepare_overlay(image, overlay, disk_size)
            console_log.unlink(missing_ok=True)
            argv = qemu_argv(
                accel="tcg", firmware=firmware, workdir=workdir, overlay=overlay,
                console_log=console_log, network=network, instance=instance,
                memory=memory, cpus=cpus, machine=machine,
            )  # fmt: skip
            guest.process = _start(argv, workdir, cleanup)
            guest.accelerator = "tcg"
            guest.started = time.monotonic()
            guest.accel_note = (
                f"TCG (software emulation: the guest did not run under KVM: {trouble})"
            )
        try:
            yield guest
        finally:
            guest.stop()


def _start(argv: list[str], workdir: Path, cleanup: Cleanup) -> subprocess.Popen[bytes]:
    """Start qemu in the background; it dies with us, so no VM outlives its runner."""
    stderr_path = workdir / "qemu.log"
    process = start(
        argv,
        output=stderr_path,
        error=VMError,
        what="start the VM (install the qemu-system-x86 package)",
        new_session=True,  # Ctrl-C goes to us; we power the guest down
    )
    cleanup.register(f"qemu {process.pid}", lambda: _kill(process))
    # qemu checks its arguments before it does anything; catch a quick failure here.
    deadline = time.monotonic() + 0.5
    while time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
    if process.poll() is not None:
        message = stderr_path.read_text(errors="replace").strip().splitlines()
        raise VMError(f"qemu failed to start: {message[-1] if message else 'no output'}")
    return process


def _kvm_trouble(vm: VM, stall: float | None = None) -> str | None:
    """Watch a guest just started under KVM until the booted system shows on its console.

    Returns why it will not get there (qemu gone, the guest stopped, or no console
    progress for ``stall`` seconds), or None once it has.
    """
    stall = KVM_STALL_SECONDS if stall is None else stall
    size, progressed = -1, time.monotonic()
    while True:
        trouble = vm.trouble()
        if trouble is not None:
            return trouble
        text = vm.console_text()
        if OS_PROGRESS.search(text):
            return None
        now = time.monotonic()
        if len(text) != size:
            size, progressed = len(text), now
        elif now - progressed > stall:
            return f"no console progress for {stall:g} s under KVM"
        time.sleep(0.1)


def _kill(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.kill()
        process.wait()


def _volume_id(instance: Instance) -> str:
    """An EBS-like volume id as EC2's NVMe controllers give it: ``vol`` and 17 hex digits."""
    return "vol" + hashlib.sha256(instance.instance_id.encode()).hexdigest()[:17]


def _image_id(image: Path) -> str:
    # Stable per image: the same build boots with the same AMI id, as on EC2.
    digest = hashlib.sha256(str(image.resolve()).encode()).hexdigest()
    return "ami-" + digest[:17]


def _accel_note(accel: str, *, asked: bool) -> str:
    """What to tell the user about the accelerator in use."""
    if accel == "kvm":
        return "KVM"
    if asked:
        return "TCG (software emulation, as asked)"
    return f"TCG (software emulation: KVM is not usable here: {accel_mod.verdict().reason})"
