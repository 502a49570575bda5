"""The VM launcher's parts that work without booting: overlay, firmware, relay, console."""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pytest

import shipyard.vm.relay
from shipyard.errors import UsageError, VMError
from shipyard.vm import accel
from shipyard.vm.console import CLOUD_INIT_FINISHED, agent_reports, final_report, wait_for
from shipyard.vm.firmware import firmware_args
from shipyard.vm.imds import ImdsServer
from shipyard.vm.metadata import Instance
from shipyard.vm.net import Network
from shipyard.vm.qemu import boot, image_virtual_size, prepare_overlay, qemu_argv

MIB = 1024**2


def test_overlay_leaves_the_image_untouched_and_grows(tmp_path: Path) -> None:
    image = tmp_path / "disk.raw"
    image.write_bytes(b"\x00" * MIB)
    overlay = tmp_path / "disk.qcow2"
    prepare_overlay(image, overlay, 4 * MIB)
    assert image_virtual_size(overlay) == 4 * MIB
    assert image.stat().st_size == MIB
    info = json.loads(
        subprocess.run(
            ["qemu-img", "info", "--output=json", str(overlay)], capture_output=True, check=True
        ).stdout
    )
    assert info["backing-filename"] == str(image)
    with pytest.raises(VMError, match="smaller"):
        prepare_overlay(image, overlay, 2 * MIB)


def test_uefi_gets_its_own_variable_store(tmp_path: Path) -> None:
    args = firmware_args("uefi", tmp_path)
    assert (tmp_path / "OVMF_VARS.fd").is_file()
    assert any("readonly=on" in a and "OVMF_CODE" in a for a in args)
    assert firmware_args("bios", tmp_path) == []


def test_an_unknown_accelerator_is_a_usage_error() -> None:
    with pytest.raises(UsageError):
        accel.choose("hvf")
    assert accel.choose("tcg") == "tcg"


def test_the_guest_reaches_imds_at_the_ec2_address() -> None:
    args = " ".join(Network(ssh_port=2222, imds_port=8080, mac="52:54:00:00:00:01").args())
    assert "guestfwd=tcp:169.254.169.254:80-cmd:" in args
    assert "hostfwd=tcp:127.0.0.1:2222-:22" in args
    assert "net=10.0.2.0/24" in args


def test_the_relay_carries_an_http_exchange(imds: ImdsServer) -> None:
    request = (
        b"PUT /latest/api/token HTTP/1.1\r\nHost: 169.254.169.254\r\n"
        b"X-aws-ec2-metadata-token-ttl-seconds: 30\r\nConnection: close\r\n\r\n"
    )
    result = subprocess.run(
        [sys.executable, "-I", "-S", shipyard.vm.relay.__file__, str(imds.port)],
        input=request,
        capture_output=True,
        timeout=30,
        check=True,
    )
    assert result.stdout.startswith(b"HTTP/1.1 200")


def read_answer(fd: int) -> bytes:
    """One HTTP answer with a Content-Length from ``fd``; a closed stream fails the test."""
    answer = b""
    while b"\r\n\r\n" not in answer or len(answer.split(b"\r\n\r\n", 1)[1]) < int(
        answer.split(b"Content-Length: ", 1)[1].split(b"\r\n", 1)[0]
    ):
        chunk = os.read(fd, 65536)
        assert chunk, f"the relay closed the stream after {answer!r}"
        answer += chunk
    return answer


def test_the_relay_forwards_each_piece_of_a_request_at_once(imds: ImdsServer) -> None:
    """A request whose body follows its head in a second write: with Nagle's algorithm on
    the relay's side, the body waited for the service's delayed ACK of the head, 40 ms a
    request. Now a request takes about its own 5 ms pause."""
    relay = subprocess.Popen(
        [sys.executable, "-I", "-S", shipyard.vm.relay.__file__, str(imds.port)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert relay.stdin is not None and relay.stdout is not None
    head = (
        b"PUT /latest/api/token HTTP/1.1\r\nHost: 169.254.169.254\r\n"
        b"X-aws-ec2-metadata-token-ttl-seconds: 30\r\nContent-Length: 2\r\n\r\n"
    )
    took: list[float] = []
    try:
        for _ in range(11):
            started = time.monotonic()
            os.write(relay.stdin.fileno(), head)
            time.sleep(0.005)  # the body comes as a piece of its own
            os.write(relay.stdin.fileno(), b"{}")
            assert read_answer(relay.stdout.fileno()).startswith(b"HTTP/1.1 200")
            took.append(time.monotonic() - started)
    finally:
        relay.stdin.close()
        relay.wait(timeout=30)
        relay.stdout.close()
    # The first includes the relay's own start and connection.
    assert statistics.median(took[1:]) < 0.03


def test_console_reports_are_parsed_from_noisy_output(tmp_path: Path) -> None:
    text = (
        "[  OK  ] Started foo\r\n"
        'shipyard-agent: {"step":"start","ok":true,"seconds":0.0}\n'
        "garbage shipyard-agent: {broken\n"
        'shipyard-agent: {"step":"ready","ok":true,"seconds":0.1,"total":0.4}\n'
    )
    reports = agent_reports(text)
    assert [r["step"] for r in reports] == ["start", "ready"]
    assert final_report(text) == reports[-1]
    log = tmp_path / "console.log"
    log.write_text(text)
    assert wait_for(log, r"total\":([0-9.]+)", 1)[1] == "0.4"
    with pytest.raises(VMError, match="did not show"):
        wait_for(log, "never", 0.3)
    with pytest.raises(VMError, match="stopped"):
        wait_for(log, "never", 5, trouble=lambda: "qemu exited: gone")
    log.write_text(text + "[ 0.01] Kernel panic - not syncing: IO-APIC + timer doesn't work!\n")
    with pytest.raises(VMError, match="panicked: IO-APIC"):
        wait_for(log, "never", 60)


def test_booting_a_missing_image_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(VMError, match="no such disk image"), boot(tmp_path / "nope.raw"):
        pass


def test_cloud_init_finishing_is_recognised_with_its_datasource() -> None:
    line = (
        "[  99.1] cloud-init[411]: Cloud-init v. 22.4.2 finished at Sun, 22 Nov 2026 04:52:12"
        " +0000. Datasource DataSourceEc2Local.  Up 99.59 seconds"
    )
    match = CLOUD_INIT_FINISHED.search(line)
    assert match is not None
    assert match.groups() == ("DataSourceEc2Local", "99.59")


def test_the_root_volume_is_an_nvme_disk_with_a_volume_id_as_on_nitro(tmp_path: Path) -> None:
    instance = Instance()
    argv = qemu_argv(
        accel="tcg", firmware="bios", workdir=tmp_path, overlay=tmp_path / "disk.qcow2",
        console_log=tmp_path / "console.log",
        network=Network(ssh_port=2222, imds_port=8080, mac=instance.mac),
        instance=instance, memory=512, cpus=1,
    )  # fmt: skip
    device = argv[argv.index("-device", argv.index("-drive")) + 1]
    assert re.fullmatch(r"nvme,drive=root,serial=vol[0-9a-f]{17}", device)
    assert "if=none,id=root" in argv[argv.index("-drive") + 1]
