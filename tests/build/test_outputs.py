"""What a user sees of finished builds: other formats, `inspect`, concurrent builds."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from shipyard.cli.main import main
from shipyard.record import load

pytestmark = pytest.mark.build

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _qemu_info(path: Path, fmt: str) -> dict[str, object]:
    # A fixed VHD has its only header at the end, so name the format instead of probing.
    out = subprocess.run(
        ["qemu-img", "info", "-f", fmt, "--output=json", str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    info: dict[str, object] = json.loads(out.stdout)
    return info


def test_vmdk_and_vhd_hold_the_same_disk(build_image: Callable[..., Path]) -> None:
    build_dir = build_image(EXAMPLES / "minimal.yml", ["formats=[raw, vmdk, vhd]"])
    record = load(build_dir)
    assert set(record.formats) == {"raw", "vmdk", "vhd"}
    vmdk = _qemu_info(build_dir / record.formats["vmdk"].path, "vmdk")
    assert vmdk["format"] == "vmdk"
    assert "streamOptimized" in json.dumps(vmdk)
    assert vmdk["virtual-size"] == record.disk_size
    vhd = _qemu_info(build_dir / record.formats["vhd"].path, "vpc")
    assert vhd["format"] == "vpc"
    assert vhd["virtual-size"] == record.disk_size
    # A fixed VHD is the raw disk plus a 512-byte footer.
    assert record.formats["vhd"].size == record.disk_size + 512
    compare = subprocess.run(
        [
            "qemu-img",
            "compare",
            "-f",
            "raw",
            "-F",
            "vmdk",
            str(build_dir / "disk.raw"),
            str(build_dir / "disk.vmdk"),
        ],
        capture_output=True,
        text=True,
    )
    assert compare.returncode == 0, compare.stdout + compare.stderr


def test_inspect_shows_partitions_formats_and_timings(
    minimal_build: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["inspect", str(minimal_build)]) == 0
    out = capsys.readouterr().out
    record = load(minimal_build)
    for text in (
        "bios",
        "esp",
        "root",
        "uefi, bios",
        record.formats["raw"].sha256,
        record.formats["qcow2"].sha256,
        "bootstrap",
        "convert",
        f"{len(record.packages)} packages",
    ):
        assert text in out, text
    assert main(["inspect", str(minimal_build / "build.json"), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["id"] == record.id and doc["status"] == "complete"


def test_inspect_of_something_that_is_not_a_build(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["inspect", str(tmp_path)]) != 0
    assert "not a build directory" in capsys.readouterr().err
    assert main(["inspect", str(tmp_path / "nope")]) == 4  # not found
    assert "no such build directory" in capsys.readouterr().err


def test_two_builds_at_once_share_the_cache(minimal_build: Path, tmp_path: Path) -> None:
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "shipyard.cli.main",
                "build",
                str(EXAMPLES / "minimal.yml"),
                "-o",
                str(tmp_path / f"out{i}"),
                "--json",
                "--set",
                f"provision=[{{shell: 'echo build {i} > /etc/motd'}}]",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]
    results = [p.communicate(timeout=600) for p in procs]
    for proc, (_, stderr) in zip(procs, results, strict=True):
        assert proc.returncode == 0, stderr
    records = [json.loads(stdout) for stdout, _ in results]
    assert records[0]["id"] != records[1]["id"]
    assert records[0]["cache"]["base_key"] == records[1]["cache"]["base_key"]
    for i, record in enumerate(records):
        build_dir = tmp_path / f"out{i}" / record["id"]
        assert record["status"] == "complete"
        from shipyard.disk.readback import read_root_file

        root = load(build_dir).root_partition()
        assert read_root_file(build_dir / "disk.raw", root.start, "/etc/motd") == f"build {i}\n"


def test_provision_steps_have_dns_apt_and_their_files(
    build_image: Callable[..., Path], tmp_path_factory: pytest.TempPathFactory
) -> None:
    folder = tmp_path_factory.mktemp("manifest")
    (folder / "setup.sh").write_text(
        '#!/bin/sh\nset -e\necho "$SHIPYARD_BUILD_ID" > /etc/built-by\n'
    )
    (folder / "app.conf").write_text("key = value\n")
    (folder / "m.yml").write_text(
        f"extends: {EXAMPLES / 'minimal.yml'}\n"
        "formats: [raw]\n"
        "provision:\n"
        "  - shell: getent hosts deb.debian.org\n"
        "  - shell: apt-get install -y --no-install-recommends tree\n"
        "  - script: setup.sh\n"
        "  - file: {source: app.conf, destination: /etc/app/app.conf, mode: '0640', owner: admin}\n"
    )
    build_dir = build_image(folder / "m.yml")
    record = load(build_dir)
    assert "tree" in record.packages
    from shipyard.disk.readback import read_root_file

    image, offset = build_dir / "disk.raw", record.root_partition().start
    assert read_root_file(image, offset, "/etc/built-by") == f"{record.id}\n"
    assert read_root_file(image, offset, "/etc/app/app.conf") == "key = value\n"
    stat = subprocess.run(
        ["debugfs", "-R", "stat /etc/app/app.conf", f"{image}?offset={offset}"],
        capture_output=True,
        text=True,
    ).stdout
    assert "Mode:  0640" in stat
    assert "User:  1000" in stat
    assert not list((build_dir).glob(".work-*"))
