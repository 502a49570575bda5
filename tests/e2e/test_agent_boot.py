"""An image boots as an EC2 instance: key pair, user data once per instance, cloud-init too."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from shipyard.vm.metadata import Instance
from shipyard.vm.qemu import boot

pytestmark = pytest.mark.vm

Login = Callable[..., subprocess.CompletedProcess[str]]

MANIFESTS = Path(__file__).parent / "manifests"
READY_TIMEOUT = 600  # TCG on a busy machine
USER_DATA = b"#!/bin/sh\necho ran >> /var/tmp/user-data-ran\n"


def test_key_pair_and_user_data_once_per_instance(
    minimal_build: Path, ssh_key: Path, tmp_path: Path, ssh: Login, password_login: Login
) -> None:
    public = ssh_key.with_suffix(".pub").read_text().strip()
    instance = Instance(user_data=USER_DATA, public_keys=(public,))
    image = minimal_build / "disk.raw"
    workdir = tmp_path / "instance"

    with boot(image, instance=instance, workdir=workdir, keep=True) as vm:
        ready = vm.wait_ready(READY_TIMEOUT)
        assert ready["step"] == "ready", vm.agent_reports()
        result = ssh(vm.ssh_port, ssh_key, "cat /var/tmp/user-data-ran; hostname", wait=120)
        assert result.returncode == 0, result.stderr
        assert result.stdout.splitlines() == ["ran", "ip-10-0-2-15"]
        refused = password_login(vm.ssh_port)
        assert refused.returncode != 0
        assert "Permission denied" in refused.stderr
        assert "password" not in refused.stderr.split("Permission denied", 1)[1]
        # The default host key types, made at first boot; no RSA unless the manifest asks.
        for kind in ("ed25519", "ecdsa"):
            assert offers_host_key(vm.ssh_port, kind), f"sshd offers no {kind} host key"
        assert not offers_host_key(vm.ssh_port, "rsa", tries=1), "sshd offers an RSA host key"

    # The same instance booting again (same disk, same instance id): user data stays done.
    with boot(image, instance=instance, workdir=workdir, keep=True) as vm:
        vm.wait_ready(READY_TIMEOUT)
        user_data = [r for r in vm.agent_reports() if r["step"] == "user-data"]
        assert user_data and "skipped" in user_data[-1], vm.agent_reports()
        result = ssh(vm.ssh_port, ssh_key, "cat /var/tmp/user-data-ran", wait=120)
        assert result.stdout == "ran\n"


def offers_host_key(port: int, kind: str, tries: int = 5) -> bool:
    """Whether sshd offers a host key of ``kind``; a few tries, as a key exchange under
    emulation can outlast ssh-keyscan's timeout."""
    for _ in range(tries):
        scan = subprocess.run(
            ["ssh-keyscan", "-p", str(port), "-T", "30", "-t", kind, "127.0.0.1"],
            capture_output=True, text=True, timeout=90, check=False,
        )  # fmt: skip
        if any(len(line.split()) >= 3 for line in scan.stdout.splitlines()):
            return True
    return False


def test_cloud_init_image_runs_user_data(build_image, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    build_dir = build_image(MANIFESTS / "cloud-init.yml")
    user_data = tmp_path / "user-data"
    user_data.write_bytes(b"#!/bin/sh\necho USER-DATA-RAN-UNDER-CLOUD-INIT > /dev/ttyS0\n")
    result = subprocess.run(
        [sys.executable, "-m", "shipyard.cli.main", "run", str(build_dir),
         "--user-data", str(user_data), "--wait-ready", "--timeout", str(READY_TIMEOUT),
         "--json"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["agent"]["agent"] == "cloud-init"
    console = Path(report["console_log"]).read_text(errors="replace")
    assert "USER-DATA-RAN-UNDER-CLOUD-INIT" in console


def test_a_first_boot_playbook_runs_and_is_reported(
    build_image: Callable[..., Path], ssh_key: Path, tmp_path: Path, ssh: Login
) -> None:
    build_dir = build_image(MANIFESTS / "ansible-firstboot.yml")
    public = ssh_key.with_suffix(".pub").read_text().strip()
    instance = Instance(public_keys=(public,))
    with boot(build_dir / "disk.raw", instance=instance, workdir=tmp_path / "vm") as vm:
        ready = vm.wait_ready(READY_TIMEOUT)
        assert ready["step"] == "ready", vm.agent_reports()
        (report,) = [r for r in vm.agent_reports() if r["step"] == "ansible"]
        assert report["ok"] and report["index"] == 0
        result = ssh(vm.ssh_port, ssh_key, "cat /etc/firstboot", wait=120)
        assert result.stdout == f"hello {instance.instance_id}\n", result.stderr
        print(f"first-boot ansible step: {report['seconds']} s, agent total {ready['total']} s")
