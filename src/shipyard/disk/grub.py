"""GRUB images and configuration, made on the host with grub-mkimage.

GRUB is not installed inside the image: one core image per firmware carries every
module it needs and a tiny embedded config that finds the root filesystem by UUID and
reads ``/boot/grub/grub.cfg`` from it. That file boots ``/vmlinuz`` and
``/initrd.img``, the symlinks Debian's kernel packages keep current, so a kernel
upgrade inside the instance needs no update-grub.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

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
    ("bios", "amd64"): ("i386-pc", ("biosdisk", "smbios")),
    ("uefi", "amd64"): ("x86_64-efi", ("efi_gop", "smbios")),
    ("uefi", "arm64"): ("arm64-efi", ("efi_gop",)),
}

KERNEL_ARGS = "ro console=tty0 console=ttyS0,115200n8 consoleblank=0 net.ifnames=1 quiet"


# When the boot loader hands the kernel an initramfs: always; never (the kernel mounts
# the root itself); or all but on EC2's Nitro instances.
InitramfsUse = Literal["always", "except-nitro", "never"]

# SMBIOS system manufacturer of Nitro instances (Xen instances say "Xen"), and of
# Shipyard's local VMs, which present their root as Nitro does: an NVMe disk.
NITRO_MANUFACTURER = "Amazon EC2"


def grub_cfg(layout: DiskLayout, *, initramfs: InitramfsUse = "always") -> str:
    """The boot menu read from the root filesystem by both firmwares.

    Without an initramfs the kernel mounts the root itself, so it is named the way the
    kernel understands (the partition's GPT id) and waited for, since NVMe probes in the
    background. That works where the root disk's driver is built into the kernel: the
    cloud kernel has NVMe, which every Nitro instance's EBS root is, but not Xen's or
    virtio's block drivers; ``except-nitro`` asks SMBIOS which machine this is.
    """
    root = layout.root_fs_uuid
    direct = [
        f"linux /vmlinuz root=PARTUUID={layout.root.uuid.lower()} rootfstype=ext4 rootwait "
        f"{KERNEL_ARGS}"
    ]
    if initramfs == "always":
        body = _through_initramfs(root)
    elif initramfs == "never":
        body = direct
    else:
        body = [
            "smbios --type 1 --get-string 4 --set manufacturer",
            f'if [ "$manufacturer" = "{NITRO_MANUFACTURER}" ]; then',
            *_indented(direct),
            "else",
            *_indented(_through_initramfs(root)),
            "fi",
        ]
    # The previous kernel always boots the safe way: it is what one falls back to.
    return (
        "# Written by shipyard: boots the kernel the /vmlinuz symlink points at.\n"
        "set timeout=0\n"
        "serial --unit=0 --speed=115200\n"
        "terminal_input serial console\n"
        "terminal_output serial console\n"
        + _menuentry("Debian GNU/Linux", root, body)
        + _menuentry("Debian GNU/Linux (previous kernel)", root, _through_initramfs(root, ".old"))
    )


def _through_initramfs(root: str, suffix: str = "") -> list[str]:
    return [f"linux /vmlinuz{suffix} root=UUID={root} {KERNEL_ARGS}", f"initrd /initrd.img{suffix}"]


def _indented(lines: list[str]) -> list[str]:
    return [f"    {line}" for line in lines]


def _menuentry(title: str, root: str, body: list[str]) -> str:
    lines = [f"search --no-floppy --fs-uuid --set=root {root}", *body]
    return f"menuentry '{title}' {{\n" + "".join(f"    {line}\n" for line in lines) + "}\n"


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
