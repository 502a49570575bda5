"""The built image boots to userland under UEFI and BIOS, and its root grows with the disk."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from shipyard import record
from shipyard.vm.qemu import boot, image_virtual_size

pytestmark = pytest.mark.vm

MANIFESTS = Path(__file__).parent / "manifests"
MARKER = re.compile(r"BOOT-MARKER root-bytes=(\d+)")
GIB = 1024**3
BOOT_TIMEOUT = 600  # TCG on a busy machine


def boot_to_marker(build_dir: Path, firmware: str, disk_size: int | None = None) -> int:
    """Boot until the marker unit prints the root filesystem's size and powers off."""
    with boot(build_dir / "disk.raw", firmware=firmware, disk_size=disk_size) as vm:
        match = vm.wait_for(MARKER, BOOT_TIMEOUT)
        vm.wait_exit(120)
        return int(match[1])


@pytest.fixture(scope="module")
def marker_build(build_image) -> Path:  # type: ignore[no-untyped-def]
    return build_image(MANIFESTS / "boot-marker.yml")  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def uefi_root_size(marker_build: Path) -> int:
    return boot_to_marker(marker_build, "uefi")


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
