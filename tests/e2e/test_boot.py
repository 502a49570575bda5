"""The built image boots to userland under UEFI and BIOS, and its root grows with the disk."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from shipyard import record
from shipyard.vm.qemu import Machine, boot, image_virtual_size

pytestmark = pytest.mark.vm

MANIFESTS = Path(__file__).parent / "manifests"
MARKER = re.compile(r"BOOT-MARKER root-bytes=(\d+)")
GIB = 1024**3
BOOT_TIMEOUT = 600  # TCG on a busy machine


def boot_to_marker_console(
    build_dir: Path, firmware: str, disk_size: int | None = None, machine: Machine = "nitro"
) -> tuple[int, str]:
    """Boot until the marker unit prints the root filesystem's size and powers off; the
    size, and the console."""
    with boot(
        build_dir / "disk.raw", firmware=firmware, disk_size=disk_size, machine=machine
    ) as vm:
        match = vm.wait_for(MARKER, BOOT_TIMEOUT)
        vm.wait_exit(120)
        return int(match[1]), vm.console_text()


def boot_to_marker(build_dir: Path, firmware: str, disk_size: int | None = None) -> int:
    return boot_to_marker_console(build_dir, firmware, disk_size)[0]


@pytest.fixture(scope="module")
def marker_build(build_image) -> Path:  # type: ignore[no-untyped-def]
    return build_image(MANIFESTS / "boot-marker.yml")  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def uefi_boot(marker_build: Path) -> tuple[int, str]:
    return boot_to_marker_console(marker_build, "uefi")


@pytest.fixture(scope="module")
def uefi_root_size(uefi_boot: tuple[int, str]) -> int:
    return uefi_boot[0]


@pytest.fixture(scope="module")
def bios_grown_root_size(marker_build: Path) -> int:
    # One boot shows two things: SeaBIOS boots the image, and the root grows to fill
    # a disk 1 GiB larger than the image.
    size = image_virtual_size(marker_build / "disk.raw")
    return boot_to_marker(marker_build, "bios", disk_size=size + GIB)


def test_boots_to_userland_under_uefi(uefi_root_size: int) -> None:
    assert uefi_root_size > GIB


def test_boots_to_userland_under_bios(bios_grown_root_size: int) -> None:
    assert bios_grown_root_size > GIB


def kernel_command_line(console: str) -> str:
    found = re.search(r"BOOT-MARKER root-bytes=\d+ cmdline=([^\n]*)", console)
    assert found is not None, "the marker shows no kernel command line"
    return found[1]


def test_a_disk_the_size_of_the_image_is_left_as_it_is(uefi_boot: tuple[int, str]) -> None:
    # The partition ends less than a MiB short of the disk: nothing worth growing, and no
    # resize on every first boot.
    assert "shipyard-growroot:" not in uefi_boot[1]


def test_on_a_nitro_like_machine_the_kernel_mounts_its_nvme_root_itself(
    uefi_boot: tuple[int, str],
) -> None:
    cmdline = kernel_command_line(uefi_boot[1])
    assert "root=PARTUUID=" in cmdline and "rootwait" in cmdline


def test_elsewhere_the_same_image_boots_through_its_initramfs(marker_build: Path) -> None:
    # A virtio root, which only the initramfs has a driver for, on a machine that is
    # not EC2's: GRUB must choose the initramfs.
    size, console = boot_to_marker_console(marker_build, "bios", machine="generic")
    assert size > GIB
    assert "root=UUID=" in kernel_command_line(console)


def test_an_image_without_initramfs_boots_from_its_nvme_root(build_image) -> None:  # type: ignore[no-untyped-def]
    build_dir = build_image(MANIFESTS / "boot-marker-no-initramfs.yml")
    size, console = boot_to_marker_console(build_dir, "bios")
    assert size > GIB
    assert "root=PARTUUID=" in kernel_command_line(console)


def test_root_filesystem_grows_with_a_larger_disk(
    uefi_root_size: int, bios_grown_root_size: int
) -> None:
    assert bios_grown_root_size - uefi_root_size > 0.9 * GIB


def test_booting_leaves_the_build_untouched(
    marker_build: Path, uefi_root_size: int, bios_grown_root_size: int
) -> None:
    raw = record.load(marker_build).artifact("raw")
    digest = hashlib.sha256()
    with open(marker_build / raw.path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    assert digest.hexdigest() == raw.sha256
