"""Builds that fail or are stopped: a clear message, and nothing left behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from shipyard.cli.main import main
from shipyard.record import load

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

pytestmark = pytest.mark.build


def test_warm_rebuild_reuses_the_base(
    minimal_build: Path, build_image: Callable[..., Path]
) -> None:
    rebuilt = build_image(
        EXAMPLES / "minimal.yml", ["provision=[{shell: 'echo changed > /etc/motd'}]"]
    )
    record = load(rebuilt)
    assert record.stages["bootstrap"].cached
    assert record.cache["base_key"] == load(minimal_build).cache["base_key"]


def test_failing_provision_step_is_named_with_its_output(
    minimal_build: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "build",
            str(EXAMPLES / "minimal.yml"),
            "-o",
            str(tmp_path),
            "--set",
            "provision=[{shell: 'echo fine'}, {shell: 'echo it broke >&2; exit 3'}]",
        ]
    )
    err = capsys.readouterr().err
    assert code != 0
    assert "provision[1] failed with exit code 3: echo it broke >&2; exit 3" in err
    assert "it broke" in err
    assert "Traceback" not in err
    (build_dir,) = tmp_path.iterdir()
    record = json.loads((build_dir / "build.json").read_text())
    assert record["status"] == "failed"
    assert record["error"].startswith("provision[1] failed")
    assert sorted(p.name for p in build_dir.iterdir() if not p.name.startswith(".b")) == [
        "build.json",
        "build.log",
    ]


def _mounts_under(path: Path) -> list[str]:
    out = subprocess.run(["findmnt", "-rn", "-o", "TARGET"], capture_output=True, text=True)
    return [m for m in out.stdout.splitlines() if m.startswith(str(path))]


def _loop_devices() -> str:
    return subprocess.run(["losetup", "-a"], capture_output=True, text=True).stdout


def _processes_with(marker: str, exclude: int = 0) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) not in (os.getpid(), exclude):
            try:
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if marker.encode() in cmdline:
                pids.append(int(entry.name))
    return pids


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_build_stopped_during_provision_leaves_nothing_behind(
    minimal_build: Path, tmp_path: Path, sig: signal.Signals
) -> None:
    marker = f"shipyard-stop-test-{uuid.uuid4().hex}"
    loops_before = _loop_devices()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "shipyard.cli.main",
            "build",
            str(EXAMPLES / "minimal.yml"),
            "-o",
            str(tmp_path),
            "--set",
            f"provision=[{{shell: 'sleep 300; echo {marker}'}}]",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 300
        while not _processes_with(marker, exclude=proc.pid):
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            assert time.monotonic() < deadline, "the provision step never started"
            time.sleep(0.2)
        proc.send_signal(sig)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode != 0
    deadline = time.monotonic() + 10
    while _processes_with(marker, exclude=proc.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _processes_with(marker, exclude=proc.pid) == [], "the provision step outlived the build"
    assert _mounts_under(tmp_path) == []
    assert _loop_devices() == loops_before
    (build_dir,) = tmp_path.iterdir()
    assert not (build_dir / "disk.raw").exists() or sig == signal.SIGKILL
    if sig == signal.SIGTERM:
        record = json.loads((build_dir / "build.json").read_text())
        assert record["status"] == "failed"
        assert "SIGTERM" in record["error"]
        assert not list(build_dir.glob(".work-*")), "the scratch directory was left behind"
