"""Firmware for the guest: OVMF (UEFI, as pflash with a per-VM variable store) or SeaBIOS."""

from __future__ import annotations

import shutil
from pathlib import Path

from shipyard.errors import VMError

# (code, variables template) pairs, most specific first.
OVMF_PAIRS = (
    ("/usr/share/OVMF/OVMF_CODE_4M.fd", "/usr/share/OVMF/OVMF_VARS_4M.fd"),
    ("/usr/share/OVMF/OVMF_CODE.fd", "/usr/share/OVMF/OVMF_VARS.fd"),
    ("/usr/share/edk2/ovmf/OVMF_CODE.fd", "/usr/share/edk2/ovmf/OVMF_VARS.fd"),
)


def find_ovmf() -> tuple[Path, Path]:
    for code, variables in OVMF_PAIRS:
        if Path(code).is_file() and Path(variables).is_file():
            return Path(code), Path(variables)
    raise VMError(
        "UEFI firmware (OVMF) is not installed",
        hint="install the ovmf package, or boot with BIOS firmware",
        setting="firmware",
    )


def firmware_args(firmware: str, workdir: Path) -> list[str]:
    """qemu arguments for ``firmware``; UEFI gets its own copy of the variable store."""
    if firmware == "bios":
        return []  # SeaBIOS is qemu's default
    if firmware != "uefi":
        raise VMError(f"unknown firmware {firmware!r}; expected uefi or bios")
    code, template = find_ovmf()
    variables = workdir / "OVMF_VARS.fd"
    if not variables.exists():
        shutil.copyfile(template, variables)
    return [
        "-drive", f"if=pflash,format=raw,unit=0,readonly=on,file={code}",
        "-drive", f"if=pflash,format=raw,unit=1,file={variables}",
    ]  # fmt: skip
