"""Instances started with `shipyard run --detach`: one small state file each.

The detached `run` process keeps the VM and its metadata service alive; it writes
``$XDG_STATE_HOME/shipyard/instances/<instance-id>.json`` when the VM has started and
again when its state changes, and removes it when it ends. `ps`, `stop` and `ssh` read
these files; a file whose process is gone (a crash, a reboot) is stale and is removed.
"""

from __future__ import annotations

import errno
import json
import os
import re
import signal
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from shipyard import paths
from shipyard.errors import UsageError, VMError
from shipyard.files import write_atomic

INSTANCE_ID = re.compile(r"^i-[0-9a-f]{8,17}$")
STOP_WAIT_SECONDS = 60.0


@dataclass(frozen=True)
class Forward:
    """A guest TCP port reachable on the host at 127.0.0.1:host_port."""

    host_port: int
    guest_port: int


@dataclass(frozen=True)
class InstanceState:
    instance_id: str
    pid: int
    build: str
    image: str
    state: str  # booting, running, ready, failed
    ssh_port: int
    ssh: str
    console_log: str
    forwards: tuple[Forward, ...] = ()
    started: float = 0.0

    def with_state(self, state: str) -> InstanceState:
        return replace(self, state=state)


def state_dir() -> Path:
    return paths.state_dir() / "instances"


def _path(instance_id: str) -> Path:
    if not INSTANCE_ID.match(instance_id):
        raise UsageError(f"{instance_id!r} is not an instance id such as i-0123456789abcdef0")
    return state_dir() / f"{instance_id}.json"


def save(state: InstanceState) -> None:
    """Write the state file atomically (0600: it names ports and paths of this user)."""
    path = _path(state.instance_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, json.dumps(asdict(state)), mode=0o600)


def remove(instance_id: str) -> None:
    _path(instance_id).unlink(missing_ok=True)


def _load(path: Path) -> InstanceState | None:
    try:
        data = json.loads(path.read_text())
        forwards = tuple(Forward(**f) for f in data.pop("forwards", []))
        return InstanceState(**data, forwards=forwards)
    except (OSError, ValueError, TypeError):
        return None


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError as exc:
        return exc.errno == errno.EPERM
    return True


def running() -> list[InstanceState]:
    """Every instance whose `run` process is alive, oldest first; stale files are removed."""
    found: list[InstanceState] = []
    folder = state_dir()
    for path in sorted(folder.glob("i-*.json")) if folder.is_dir() else []:
        state = _load(path)
        if state is None or not alive(state.pid):
            path.unlink(missing_ok=True)
            continue
        found.append(state)
    return sorted(found, key=lambda s: s.started)


def find(instance_id: str) -> InstanceState:
    """The running instance with this id (a unique prefix such as ``i-0a1b`` will do)."""
    if not re.match(r"^i-[0-9a-f]{1,17}$", instance_id):
        raise UsageError(f"{instance_id!r} is not an instance id such as i-0123456789abcdef0")
    matches = [s for s in running() if s.instance_id.startswith(instance_id)]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise VMError(
            f"no running instance {instance_id!r}", hint="`shipyard ps` lists running instances"
        )
    raise UsageError(f"{instance_id!r} matches {len(matches)} instances; give more of its id")


def stop(state: InstanceState, timeout: float = STOP_WAIT_SECONDS) -> None:
    """Ask the instance's `run` process to power the guest off and clean up; wait for it."""
    try:
        os.kill(state.pid, signal.SIGTERM)
    except ProcessLookupError:
        remove(state.instance_id)
        return
    deadline = time.monotonic() + timeout
    while alive(state.pid):
        if time.monotonic() > deadline:
            raise VMError(
                f"instance {state.instance_id} did not stop within {timeout:.0f} s",
                hint=f"its process is {state.pid}",
            )
        time.sleep(0.1)
    remove(state.instance_id)
