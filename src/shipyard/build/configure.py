"""Stage configure: make the bootstrapped tree a cloud instance's system."""

from __future__ import annotations

import json
import os
from pathlib import Path

from shipyard.build.chroot import run_in_root
from shipyard.build.context import BuildContext
from shipyard.build.packages import PLAIN_LOCALES, PLAIN_TIMEZONES, deb822_sources
from shipyard.build.units import (
    MASKED,
    UNITS,
    enable_unit,
    host_key_files,
    mask_unit,
    sshd_host_keys,
)
from shipyard.disk.grub import InitramfsUse, grub_cfg
from shipyard.errors import BuildError


def configure_system(ctx: BuildContext) -> None:
    configure_hostname(ctx)
    configure_fstab(ctx)
    configure_network(ctx)
    configure_locale(ctx)
    configure_timezone(ctx)
    configure_apt(ctx)
    configure_user(ctx)
    configure_ssh(ctx)
    configure_grub(ctx)
    install_boot_units(ctx)
    write_image_info(ctx)


def write_file(ctx: BuildContext, path: str, content: str, mode: int = 0o644) -> Path:
    target = ctx.in_root(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.is_symlink():
        target.unlink()
    target.write_text(content)
    os.chmod(target, mode)
    return target


def configure_hostname(ctx: BuildContext) -> None:
    name = ctx.manifest.system.hostname
    write_file(ctx, "/etc/hostname", f"{name}\n")
    write_file(
        ctx,
        "/etc/hosts",
        f"127.0.0.1\tlocalhost\n127.0.1.1\t{name}\n\n"
        "::1\tlocalhost ip6-localhost ip6-loopback\nff02::1\tip6-allnodes\n"
        "ff02::2\tip6-allrouters\n",
    )


def configure_fstab(ctx: BuildContext) -> None:
    lines = [
        "# <file system> <mount point> <type> <options> <dump> <pass>",
        f"UUID={ctx.layout.root_fs_uuid}\t/\text4\tdefaults,discard,errors=remount-ro\t0\t1",
    ]
    if ctx.layout.find("esp") is not None:
        # Mounted on first use: nothing reads the ESP at boot, and mounting it (vfat and
        # its fsck) cost about a second of every boot under emulation.
        lines.append(
            f"UUID={ctx.layout.esp_fs_uuid}\t/boot/efi\tvfat\tumask=0077,nofail,"
            "x-systemd.automount,x-systemd.device-timeout=10s\t0\t2"
        )
        ctx.in_root("/boot/efi").mkdir(parents=True, exist_ok=True)
    write_file(ctx, "/etc/fstab", "\n".join(lines) + "\n")


NETWORK = (
    "[Match]\nType=ether\nKind=!*\n\n[Network]\nDHCP=yes\nLinkLocalAddressing=ipv6\n\n"
    "[DHCPv4]\nUseDomains=yes\n"
)
# No IPv6 duplicate address detection, on every interface: Amazon's network configuration
# for EC2 turns it off for the instance's own, whose addresses the cloud assigns; here
# bridges and containers' links go without it too. Detection held each link's link-local
# address back for 1 to 2 s after the link came up, and a link counts as configured (what
# systemd-networkd-wait-online and the agent wait for) only once it has that address.
# accept_dad, not networkd's IPv6DuplicateAddressDetection=0: with no probes to send the
# kernel still waits a random delay of up to a second. systemd-sysctl applies the glob
# to each link as it appears, before networkd brings it up.
NO_DAD = "net.ipv6.conf.default.accept_dad = 0\nnet.ipv6.conf.*.accept_dad = 0\n"


def configure_network(ctx: BuildContext) -> None:
    write_file(ctx, "/etc/systemd/network/90-shipyard-dhcp.network", NETWORK)
    write_file(ctx, "/etc/sysctl.d/60-shipyard-ipv6-dad.conf", NO_DAD)
    enable_unit(ctx.root, "systemd-networkd.service", "multi-user.target")
    if ctx.in_root("/lib/systemd/system/systemd-resolved.service").exists():
        enable_unit(ctx.root, "systemd-resolved.service", "multi-user.target")
        resolv = ctx.in_root("/etc/resolv.conf")
        if resolv.is_symlink() or resolv.exists():
            resolv.unlink()
        resolv.symlink_to("../run/systemd/resolve/stub-resolv.conf")


def configure_locale(ctx: BuildContext) -> None:
    locale = ctx.manifest.system.locale
    write_file(ctx, "/etc/default/locale", f"LANG={locale}\n")
    if locale in PLAIN_LOCALES:
        return
    charset = locale.split(".", 1)[1] if "." in locale else "UTF-8"
    write_file(ctx, "/etc/locale.gen", f"{locale} {charset.upper().replace('UTF8', 'UTF-8')}\n")
    run_in_root(ctx.root, ["locale-gen"], error=BuildError, what=f"generate the {locale} locale")


def configure_timezone(ctx: BuildContext) -> None:
    zone = ctx.manifest.system.timezone
    if zone in PLAIN_TIMEZONES:
        zone = "Etc/UTC"
    elif not ctx.in_root(f"/usr/share/zoneinfo/{zone}").exists():
        raise BuildError(f"system.timezone: {zone!r} is not a time zone known to tzdata")
    localtime = ctx.in_root("/etc/localtime")
    if localtime.exists() or localtime.is_symlink():
        localtime.unlink()
    localtime.symlink_to(f"/usr/share/zoneinfo/{zone}")
    write_file(ctx, "/etc/timezone", f"{zone}\n")


def configure_apt(ctx: BuildContext) -> None:
    write_file(ctx, "/etc/apt/sources.list.d/debian.sources", deb822_sources(ctx.manifest))
    legacy = ctx.in_root("/etc/apt/sources.list")
    legacy.unlink(missing_ok=True)


def configure_user(ctx: BuildContext) -> None:
    user = ctx.manifest.system.user
    groups = "sudo,adm"
    passwd = ctx.in_root("/etc/passwd").read_text().splitlines()
    if not any(line.startswith(f"{user}:") for line in passwd):
        run_in_root(
            ctx.root,
            ["useradd", "--create-home", "--shell", "/bin/bash", "--groups", groups, user],
            error=BuildError,
            what=f"create the user {user}",
        )
    run_in_root(ctx.root, ["passwd", "--lock", user], error=BuildError, what="lock the password")
    write_file(ctx, f"/etc/sudoers.d/90-shipyard-{user}", f"{user} ALL=(ALL) NOPASSWD:ALL\n", 0o440)


def configure_ssh(ctx: BuildContext) -> None:
    write_file(
        ctx,
        "/etc/ssh/sshd_config.d/50-shipyard.conf",
        "PermitRootLogin no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
        "PubkeyAuthentication yes\nUseDNS no\n" + sshd_host_keys(ctx.manifest.system.ssh_host_keys),
    )


def configure_grub(ctx: BuildContext) -> None:
    """The boot menu both firmwares read from the root filesystem."""
    write_file(ctx, "/boot/grub/grub.cfg", grub_cfg(ctx.layout, initramfs=initramfs_use(ctx)))


def initramfs_use(ctx: BuildContext) -> InitramfsUse:
    system = ctx.manifest.system
    if system.initramfs == "none":
        return "never"
    # Only amd64's cloud kernel is known to have NVMe and ext4 built in.
    if system.initramfs == "cloud" and system.architecture == "amd64":
        return "except-nitro"
    return "always"


def install_boot_units(ctx: BuildContext) -> None:
    """Host keys before sshd; the root partition and filesystem grow into a larger disk."""
    for unit in (*UNITS, *host_key_files(ctx.manifest.system.ssh_host_keys)):
        write_file(ctx, unit.path, unit.content, unit.mode)
        if unit.wanted_by:
            enable_unit(ctx.root, Path(unit.path).name, unit.wanted_by)
    for name in MASKED:
        mask_unit(ctx.root, name)


def write_image_info(ctx: BuildContext) -> None:
    # Inputs only, not the build's id or time: the same manifest gives the same file.
    info = {
        "manifest_sha256": ctx.manifest_sha256,
        "flavour": ctx.manifest.flavour,
        "user": ctx.manifest.system.user,
        "release": ctx.manifest.system.release,
        "architecture": ctx.manifest.system.architecture,
        "agent": ctx.manifest.agent,
    }
    write_file(ctx, "/etc/shipyard/image.json", json.dumps(info, indent=2) + "\n")
