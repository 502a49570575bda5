"""GRUB images and configuration, made on the host with grub-mkimage.

GRUB is not installed inside the image: one core image per firmware carries every
module it needs and a tiny embedded config that finds the root filesystem by UUID and
reads ``/boot/grub/grub.cfg`` from it. That file boots ``/vmlinuz`` and
``/initrd.img``, the symlinks Debian's kernel packages keep current, so a kernel
upgrade inside the instance needs no update-grub.
"""

from __future__ import annotations

from pathlib import Path

from shipyard.disk.layout import DiskLayout
from shipyard.errors import DiskError
from shipyard.proc import run

GRUB_LIB = Path("/usr/lib/grub")

COMMON_MODULES = (
    "part_gpt",
    "part_msdos",
    "ext2",
    "fat",
    "search",
    "search_fs_uuid",
    "normal",
    "linux",
    "configfile",
    "echo",
    "test",
    "serial",
    "terminal",
    "boot",
    "sleep",
    "halt",
    "reboot",
    "cat",
    "ls",
)

# GRUB platform per firmware and architecture: (platform, extra modules).
PLATFORMS: dict[tuple[str, str], tuple[str, tuple[str, ...]]] = {
    ("bios", "amd64"): ("i386-pc", ("biosdisk",)),
    ("uefi", "amd64"): ("x86_64-efi", ("efi_gop",)),
    ("uefi", "arm64"): ("arm64-efi", ("efi_gop",)),
}

KERNEL_ARGS = "ro console=tty0 console=ttyS0,115200n8 consoleblank=0 net.ifnames=1 quiet"


def grub_cfg(layout: DiskLayout) -> str:
    """The boot menu read from the root filesystem by both firmwares."""
    root = layout.root_fs_uuid
    return f"""\
# Written by shipyard: boots the kernel the /vmlinuz symlink points at.
set timeout=0
serial --unit=0 --speed=115200
terminal_input serial console
terminal_output serial console
menuentry 'Debian GNU/Linux' {{
    search --no-floppy --fs-uuid --set=root {root}
    linux /vmlinuz root=UUID={root} {KERNEL_ARGS}
    initrd /initrd.img
}}
menuentry 'Debian GNU/Linux (previous kernel)' {{
    search --no-floppy --fs-uuid --set=root {root}
    linux /vmlinuz.old root=UUID={root} {KERNEL_ARGS}
    initrd /initrd.img.old
}}
"""


def early_cfg(layout: DiskLayout) -> str:
    """Embedded in the core image: find the root filesystem, then normal mode reads grub.cfg."""
    return (
        f"search --no-floppy --fs-uuid --set=root {layout.root_fs_uuid}\n"
        "set prefix=($root)/boot/grub\n"
    )


def platform_for(firmware: str, architecture: str) -> tuple[str, tuple[str, ...]]:
    try:
        return PLATFORMS[(firmware, architecture)]
    except KeyError:
        raise DiskError(f"{firmware} boot is not supported on {architecture}") from None


def make_core_image(
    firmware: str, architecture: str, layout: DiskLayout, work: Path, output: Path
) -> Path:
    """grub-mkimage for ``firmware``; returns ``output``."""
    platform, extra = platform_for(firmware, architecture)
    if not (GRUB_LIB / platform).is_dir():
        raise DiskError(
            f"GRUB's {platform} modules are missing (install the grub "
            f"{'pc' if platform == 'i386-pc' else 'efi-' + architecture}-bin package)"
        )
    config = work / f"early-{platform}.cfg"
    config.write_text(early_cfg(layout))
    run(
        [
            "grub-mkimage",
            "-O",
            platform,
            "-d",
            GRUB_LIB / platform,
            "-o",
            output,
            "-c",
            config,
            "-p",
            "/boot/grub",
            *COMMON_MODULES,
            *extra,
        ],
        error=DiskError,
        what=f"make the GRUB {platform} image",
    )
    return output


def grub_version() -> str:
    out = run(["grub-mkimage", "--version"], check=False)
    return out.stdout.strip().split()[-1] if out.returncode == 0 and out.stdout else "unknown"
