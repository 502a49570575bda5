"""`run --detach`, `ps`, `ssh`, `stop`: several VMs managed from one shell, a port forwarded."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.vm

READY_TIMEOUT = 600  # TCG on a busy machine
# A web server that outlives the agent's user-data step, as a service would.
USER_DATA = (
    "#!/bin/sh\n"
    "mkdir -p /srv/www && echo hello-from-the-guest > /srv/www/index.html\n"
    "systemd-run --unit=web python3 -m http.server 8080 --directory /srv/www\n"
)


def shipyard(*args: str, state: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "XDG_STATE_HOME": str(state)}
    return subprocess.run(
        [sys.executable, "-m", "shipyard.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=READY_TIMEOUT + 180,
        env=env,
        check=False,
    )


def fetch(url: str, wait: float = 60) -> str:
    """The page at ``url``, retried while the guest's server is still starting."""
    deadline = time.monotonic() + wait
    while True:
        try:
            return httpx.get(url, timeout=30).text
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)


def test_a_detached_vm_is_listed_reached_and_stopped(
    minimal_build: Path, ssh_key: Path, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    (tmp_path / "user-data").write_text(USER_DATA)
    started = shipyard(
        "run", str(minimal_build), "--detach", "--wait-ready", "--timeout", str(READY_TIMEOUT),
        "--forward", "8080", "--user-data", str(tmp_path / "user-data"),
        "--ssh-key", str(ssh_key.with_suffix(".pub")), "--json",
        state=state,
    )  # fmt: skip
    assert started.returncode == 0, started.stderr
    instance = json.loads(started.stdout)
    instance_id = instance["instance_id"]
    try:
        listed = json.loads(shipyard("ps", "--json", state=state).stdout)
        assert [(i["instance_id"], i["state"]) for i in listed] == [(instance_id, "ready")]
        # sshd may start a little after the agent's ready report: retry while it refuses.
        deadline = time.monotonic() + 120
        while True:
            remote = shipyard(
                "ssh", instance_id[:6], "-i", str(ssh_key), "--",
                "cat /srv/www/index.html; systemctl is-active web",
                state=state,
            )  # fmt: skip
            if remote.returncode != 255 or time.monotonic() > deadline:
                break
            time.sleep(2)
        assert remote.returncode == 0, remote.stderr
        assert remote.stdout == "hello-from-the-guest\nactive\n"
        port = listed[0]["forwards"][0]["host_port"]
        assert fetch(f"http://127.0.0.1:{port}/") == "hello-from-the-guest\n"
    finally:
        stopped = shipyard("stop", instance_id, state=state)
    assert stopped.returncode == 0, stopped.stderr
    assert shipyard("ps", state=state).stdout.split()[:2] == ["INSTANCE", "IMAGE"]
    assert json.loads(shipyard("ps", "--json", state=state).stdout) == []
    with pytest.raises(ProcessLookupError):
        os.kill(instance["pid"], 0)
    assert not (minimal_build / "runs" / instance_id / "disk.qcow2").exists()
