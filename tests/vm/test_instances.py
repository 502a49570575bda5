"""`ps`, `stop` and `ssh` without a VM: stale state, unknown ids, bad forwards."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from shipyard.vm import instances


def shipyard(*args: str, state: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "XDG_STATE_HOME": str(state)}
    return subprocess.run(
        [sys.executable, "-m", "shipyard.cli.main", *args],
        capture_output=True, text=True, timeout=60, env=env, check=False,
    )  # fmt: skip


def dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def test_an_instance_whose_process_is_gone_is_not_listed_and_its_file_goes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    gone = instances.InstanceState(
        instance_id="i-0123456789abcdef0", pid=dead_pid(), build="b", image="img",
        state="ready", ssh_port=2222, ssh="ssh -p 2222 admin@127.0.0.1", console_log="c",
    )  # fmt: skip
    here = instances.InstanceState(
        **{**gone.__dict__, "instance_id": "i-0fedcba987654321f", "pid": os.getpid()}
    )
    instances.save(gone)
    instances.save(here)
    assert (instances.state_dir() / "i-0123456789abcdef0.json").stat().st_mode & 0o777 == 0o600
    assert [s.instance_id for s in instances.running()] == ["i-0fedcba987654321f"]
    assert not (instances.state_dir() / "i-0123456789abcdef0.json").exists()
    listed = json.loads(shipyard("ps", "--json", state=tmp_path).stdout)
    assert [i["instance_id"] for i in listed] == ["i-0fedcba987654321f"]
    assert instances.find("i-0fed").pid == os.getpid()


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (["stop", "i-0abc"], 1, "no running instance 'i-0abc'"),
        (["ssh", "i-0abc"], 1, "no running instance 'i-0abc'"),
        (["stop"], 2, "name the instances to stop, or give --all"),
        (["stop", "../../etc"], 2, "is not an instance id"),
        (["run", "BUILD", "--forward", "http"], 2, "'http' is not a port number"),
        (["run", "BUILD", "--forward", "70000:80"], 2, "70000 is not a port number"),
    ],
)
def test_bad_ids_and_forwards_are_one_sentence(
    tmp_path: Path, argv: list[str], code: int, message: str
) -> None:
    result = shipyard(*argv, state=tmp_path)
    assert result.returncode == code, result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr


def test_ps_with_nothing_running_prints_its_header(tmp_path: Path) -> None:
    result = shipyard("ps", state=tmp_path)
    assert result.stdout.split() == ["INSTANCE", "IMAGE", "STATE", "SSH", "PORTS", "PID"]
