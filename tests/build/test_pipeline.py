"""A real build of examples/minimal.yml, checked from the outside: files, table, filesystems."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from shipyard.disk.layout import BIOS_BOOT_TYPE, ESP_TYPE, ROOT_TYPES
from shipyard.disk.partition import read_partition_table
from shipyard.disk.readback import (
    ext4_superblock,
    list_fat_dir,
    list_root_dir,
    read_root_file,
    root_file_exists,
)
from shipyard.record import load

pytestmark = pytest.mark.build


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def test_build_record_matches_the_files(minimal_build: Path) -> None:
    record = load(minimal_build)
    assert record.status == "complete"
    assert record.name.startswith("debian-bookworm-minimal-amd64-")
    assert set(record.formats) == {"raw", "qcow2"}
    for artifact in record.formats.values():
        path = minimal_build / artifact.path
        assert path.stat().st_size == artifact.size
        assert _sha256(path) == artifact.sha256
        assert artifact.virtual_size == 2 * 1024**3
    raw = minimal_build / "disk.raw"
    assert raw.stat().st_blocks * 512 < raw.stat().st_size / 2, "disk.raw is not sparse"
    assert list(record.stages) == [
        "bootstrap",
        "configure",
        "agent",
        "provision",
        "finalize",
        "assemble",
        "convert",
    ]
    data = json.loads((minimal_build / "build.json").read_text())
    assert len(data["manifest_sha256"]) == 64
    assert data["manifest"]["system"]["release"] == "bookworm"
    assert {"mmdebstrap", "qemu-img", "grub", "shipyard"} <= set(data["tools"])
    assert (minimal_build / "build.log").read_text().count("===") == 7
    assert not list(minimal_build.glob(".work-*"))


def test_partition_table_is_gpt_with_root_last(minimal_build: Path) -> None:
    table = read_partition_table(minimal_build / "disk.raw")
    assert table["label"] == "gpt"
    types = [p["type"] for p in table["partitions"]]
    assert types == [BIOS_BOOT_TYPE, ESP_TYPE, ROOT_TYPES["amd64"]]
    record = load(minimal_build)
    assert [p.uuid for p in record.partitions] == [p["uuid"] for p in table["partitions"]]


def test_root_filesystem_label_and_uuid_match_fstab_and_grub(minimal_build: Path) -> None:
    record = load(minimal_build)
    root = record.root_partition()
    image = minimal_build / "disk.raw"
    sb = ext4_superblock(image, root.start)
    assert sb["Filesystem volume name"] == "root" == root.label
    assert sb["Filesystem UUID"] == root.fs_uuid
    fstab = read_root_file(image, root.start, "/etc/fstab")
    assert f"UUID={root.fs_uuid}\t/\text4" in fstab
    esp = next(p for p in record.partitions if p.name == "esp")
    assert f"UUID={esp.fs_uuid}\t/boot/efi\tvfat" in fstab
    grub = read_root_file(image, root.start, "/boot/grub/grub.cfg")
    assert f"root=UUID={root.fs_uuid}" in grub and "console=ttyS0" in grub
    assert list_fat_dir(image, esp.start, "/EFI/BOOT") == ["BOOTX64.EFI"]


def test_image_is_configured_as_a_cloud_instance(minimal_build: Path) -> None:
    record = load(minimal_build)
    image, offset = minimal_build / "disk.raw", record.root_partition().start

    def read(path: str) -> str:
        return read_root_file(image, offset, path)

    assert read("/etc/hostname") == "debian\n"
    assert read("/etc/machine-id") == ""
    assert not [
        n
        for n in ("ssh_host_rsa_key", "ssh_host_ed25519_key", "ssh_host_ecdsa_key")
        if root_file_exists(image, offset, f"/etc/ssh/{n}")
    ], "SSH host keys must be made per instance, not shipped"
    passwd = read("/etc/passwd")
    assert "\nadmin:" in passwd
    shadow = read("/etc/shadow")
    admin = next(line for line in shadow.splitlines() if line.startswith("admin:"))
    assert admin.split(":")[1].startswith("!"), "the default user's password must be locked"
    assert "admin ALL=(ALL) NOPASSWD:ALL" in read("/etc/sudoers.d/90-shipyard-admin")
    sshd = read("/etc/ssh/sshd_config.d/50-shipyard.conf")
    assert "PasswordAuthentication no" in sshd and "PermitRootLogin no" in sshd
    assert "DHCP=yes" in read("/etc/systemd/network/90-shipyard-dhcp.network")
    assert "bookworm-security" in read("/etc/apt/sources.list.d/debian.sources")
    assert read("/etc/motd") == "Built by Shipyard\n"
    assert root_file_exists(
        image, offset, "/etc/systemd/system/local-fs.target.wants/shipyard-growroot.service"
    )
    assert root_file_exists(
        image, offset, "/etc/systemd/system/ssh.service.wants/shipyard-ssh-keygen.service"
    )


def test_required_packages_are_installed_and_recorded(minimal_build: Path) -> None:
    record = load(minimal_build)
    for name in ("linux-image-cloud-amd64", "openssh-server", "systemd-sysv", "sudo", "udev"):
        assert name in record.packages, name
    assert record.kernel and record.kernel.endswith("-cloud-amd64")
    status = read_root_file(
        minimal_build / "disk.raw", record.root_partition().start, "/var/lib/dpkg/status"
    )
    assert "Package: openssh-server\nStatus: install ok installed" in status


def test_the_minimal_image_stays_small(minimal_build: Path) -> None:
    record = load(minimal_build)
    # usrmerge would pull in perl (about 50 MB); usr-is-merged satisfies the same need.
    assert "usr-is-merged" in record.packages
    for name in ("usrmerge", "perl", "libperl5.36"):
        assert name not in record.packages, name
    image, offset = minimal_build / "disk.raw", record.root_partition().start
    assert read_root_file(image, offset, "/etc/initramfs-tools/conf.d/shipyard.conf") == (
        "MODULES=list\n"
    )
    assert "xen-blkfront" in read_root_file(image, offset, "/etc/initramfs-tools/modules")
    # udev's hardware database is left out (about 20 MiB with its compiled form).
    assert list_root_dir(image, offset, "/usr/lib/udev/hwdb.d") == []
    assert list_root_dir(image, offset, "/usr/lib/udev/rules.d"), "udev's rules stay"
