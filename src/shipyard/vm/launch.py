"""``shipyard run``'s work, apart from argument parsing: boot a build, wait, record."""

from __future__ import annotations

import contextlib
import datetime
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shipyard import proc, record
from shipyard.errors import AgentError, UsageError, VMError
from shipyard.record_sections import AgentReport, PortForward, RunEntry, RunOutcome
from shipyard.vm import instances
from shipyard.vm.identity import load_signer
from shipyard.vm.metadata import USER_DATA_LIMIT, Instance
from shipyard.vm.net import ssh_command
from shipyard.vm.qemu import VM, boot


@dataclass
class RunRequest:
    build: str
    user_data: Path | None = None
    ssh_key: Path | None = None
    firmware: str | None = None
    memory: int = 1024
    cpus: int = 2
    disk_size: int | None = None
    wait_ready: bool = False
    timeout: float = 300.0
    keep: bool = False
    accel: str | None = None
    forwards: tuple[instances.Forward, ...] = ()
    tags: tuple[tuple[str, str], ...] = ()  # served as instance metadata tags
    iam_role: str | None = None  # an instance profile role, with made-up credentials
    # Detached: listed by `shipyard ps` while it runs, until `shipyard stop` or power-off.
    detach: bool = False
    agent: str = "shipyard"  # filled in from the build record


@dataclass
class RunResult:
    """A run while it goes on; :meth:`entry` is what it comes to."""

    instance_id: str
    accelerator: str
    firmware: str
    ssh_port: int
    ssh: str
    console_log: str
    certificate: str
    agent: dict[str, Any] | None = None
    ready_seconds: float | None = None
    forwards: tuple[instances.Forward, ...] = ()

    def entry(self, outcome: RunOutcome, disk_size: int | None) -> RunEntry:
        return RunEntry(
            instance_id=self.instance_id,
            accelerator=self.accelerator,
            firmware=self.firmware,
            ssh_port=self.ssh_port,
            ssh=self.ssh,
            console_log=self.console_log,
            certificate=self.certificate,
            agent=AgentReport.model_validate(self.agent) if self.agent else None,
            ready_seconds=self.ready_seconds,
            forwards=tuple(
                PortForward(host_port=f.host_port, guest_port=f.guest_port) for f in self.forwards
            ),
            outcome=outcome,
            disk_size=disk_size,
            finished=datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        )


def read_user_data(path: Path | None) -> bytes | None:
    if path is None:
        return None
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"{path}: {exc.strerror}", setting="user_data") from exc
    if len(data) > USER_DATA_LIMIT:
        raise UsageError(
            f"{path} is {len(data)} bytes; EC2 accepts at most {USER_DATA_LIMIT} (gzip it)",
            setting="user_data",
        )
    return data


def read_ssh_key(path: Path | None) -> tuple[str, ...]:
    if path is None:
        return ()
    from shipyard.agent.keys import valid_key

    try:
        lines = path.read_text().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: cannot read it ({exc})", setting="ssh_key") from exc
    keys = tuple(key for line in lines if line.strip() and (key := valid_key(line)))
    if not keys:
        raise UsageError(f"{path} holds no OpenSSH public key (a .pub file)", setting="ssh_key")
    return keys


def launch(request: RunRequest, say: Any) -> RunEntry:
    """Boot the build, report progress through ``say(text)``; what happened, as recorded."""
    build_dir = record.find_build(request.build)
    rec = record.load(build_dir)
    image = build_dir / rec.artifact("raw").path
    firmware = request.firmware or ("uefi" if "uefi" in rec.boot_modes else rec.boot_modes[0])
    if firmware not in rec.boot_modes:
        raise UsageError(
            f"build {rec.id} cannot boot with {firmware} (it supports {', '.join(rec.boot_modes)})"
        )
    user = str(rec.manifest.get("system", {}).get("user", "admin"))
    request.agent = rec.agent
    if request.wait_ready and rec.agent == "none":
        raise UsageError(
            f"build {rec.id} has no boot agent (agent: none): there is no ready report to wait for",
            setting="wait_ready",
        )
    signer = load_signer()
    instance = Instance(
        user_data=read_user_data(request.user_data),
        public_keys=read_ssh_key(request.ssh_key),
        image_id=_ami_id(rec.id),
        tags=request.tags,
        iam_role=request.iam_role,
    )
    workdir = build_dir / "runs" / instance.instance_id
    started = time.monotonic()
    with boot(
        image,
        firmware=firmware,
        disk_size=request.disk_size,
        instance=instance,
        workdir=workdir,
        memory=request.memory,
        cpus=request.cpus,
        accel=request.accel,
        signer=signer,
        keep=request.keep,
        forwards=tuple((f.host_port, f.guest_port) for f in request.forwards),
    ) as vm:
        result = RunResult(
            instance_id=instance.instance_id,
            accelerator=vm.accelerator,
            firmware=firmware,
            ssh_port=vm.ssh_port,
            ssh=ssh_command(user, vm.ssh_port),
            console_log=str(vm.console_log),
            certificate=str(signer.certificate_path),
            forwards=request.forwards,
        )
        say(f"instance {instance.instance_id}: {firmware}, {vm.accel_note}")
        say(f"console: {vm.console_log}")
        say(f"identity certificate: {signer.certificate_path}")
        say(f"ssh: {result.ssh}")
        for f in request.forwards:
            say(f"port: 127.0.0.1:{f.host_port} → guest port {f.guest_port}")
        state = instances.InstanceState(
            instance_id=instance.instance_id,
            pid=os.getpid(),
            build=str(build_dir),
            image=rec.name,
            state="booting" if request.wait_ready else "running",
            ssh_port=vm.ssh_port,
            ssh=result.ssh,
            console_log=str(vm.console_log),
            forwards=request.forwards,
            started=time.time(),
        )
        if request.detach:
            instances.save(state)
        outcome: RunOutcome = "interrupted"
        try:
            outcome = _wait(vm, request, result, started, say, state)
        except VMError:
            outcome = "timeout"
            raise
        finally:
            if request.detach:
                instances.remove(instance.instance_id)
            entry = result.entry(outcome, request.disk_size)
            _record(build_dir, entry)
    if outcome == "failed":
        agent = result.agent or {}
        what = (
            f"steps {', '.join(map(str, agent['failed_steps']))} failed"
            if agent.get("failed_steps")
            else f"it found no metadata service ({agent.get('datasource', 'no datasource')})"
        )
        raise AgentError(
            f"the agent on {instance.instance_id} did not get ready: {what}",
            hint=f"see the console log {vm.console_log}",
        )
    return entry


def _wait(
    vm: VM,
    request: RunRequest,
    result: RunResult,
    started: float,
    say: Any,
    state: instances.InstanceState,
) -> RunOutcome:
    if request.wait_ready:
        result.agent = vm.wait_ready(request.timeout, agent=request.agent)
        result.ready_seconds = round(time.monotonic() - started, 2)
        if result.agent.get("step") != "ready":
            return "failed"
        say(f"ready after {result.ready_seconds} s")
        if request.detach:
            instances.save(state.with_state("ready"))
        if not (request.keep or request.detach):
            return "ready"  # leaving the boot block powers the guest down
    say("running until the guest powers off (Ctrl-C stops it)")
    proc.wait(vm.process)
    return "ready" if result.agent else "exited"


def _record(build_dir: Path, entry: RunEntry) -> None:
    with contextlib.suppress(OSError):  # a read-only build directory must not fail a run
        record.append(build_dir, entry)


def _ami_id(build_id: str) -> str:
    import hashlib

    return "ami-" + hashlib.sha256(build_id.encode()).hexdigest()[:17]
