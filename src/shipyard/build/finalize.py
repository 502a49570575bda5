"""Stage finalize: what the image must not carry, and what it holds, recorded."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from shipyard.build import inroot
from shipyard.build.context import AddedFile, BuildContext, ImageContents
from shipyard.build.dpkg_status import InstalledPackage, deb_file_name, read_installed
from shipyard.checksum import sha256_file
from shipyard.errors import BuildError
from shipyard.manifest.schema import FileStep


def finalize_root(ctx: BuildContext) -> ImageContents:
    installed = installed_packages(ctx)
    contents = ImageContents(
        packages={p.name: p.version for p in installed},
        kernel=installed_kernel(ctx),
        installed=installed,
        added_files=added_files(ctx),
    )
    clean_root(ctx)
    return contents


def installed_packages(ctx: BuildContext) -> tuple[InstalledPackage, ...]:
    """Everything dpkg has installed in the image, with the sha256 of the cached .debs."""
    try:
        found = read_installed(ctx.root)
    except OSError as exc:
        raise BuildError(f"cannot read the image's dpkg status: {exc}") from exc
    system = ctx.manifest.system
    debs = ctx.cache.debs(system.release, system.architecture)
    return tuple(_with_deb_digest(p, debs / deb_file_name(p)) for p in found)


def _with_deb_digest(package: InstalledPackage, deb: Path) -> InstalledPackage:
    return replace(package, deb_sha256=sha256_file(deb)) if deb.is_file() else package


def added_files(ctx: BuildContext) -> tuple[AddedFile, ...]:
    """The files provision ``file:`` steps put in the image, as they are now."""
    found: dict[str, AddedFile] = {}
    for step in ctx.manifest.provision:
        if isinstance(step, FileStep):
            path = step.file.destination
            target = ctx.in_root(path)
            # A later step may have made a folder on the way a link out of the image.
            inside = target.resolve().is_relative_to(ctx.root.resolve())
            if inside and target.is_file() and not target.is_symlink():
                found[path] = AddedFile(path=path, sha256=sha256_file(target))
    return tuple(found[p] for p in sorted(found))


def installed_kernel(ctx: BuildContext) -> str:
    """The version of the kernel /vmlinuz points at; BuildError without it or its initramfs."""
    vmlinuz = ctx.in_root("/vmlinuz")
    if not vmlinuz.is_symlink():
        raise BuildError("the image has no /vmlinuz: no kernel package was installed")
    target = vmlinuz.readlink().name
    kernel = target.removeprefix("vmlinuz-")
    if not ctx.in_root(f"/boot/initrd.img-{kernel}").exists():
        raise BuildError(f"the image has no initramfs for kernel {kernel}")
    return kernel


def clean_root(ctx: BuildContext) -> None:
    """Leave nothing instance-specific or merely cached in the image."""
    for pattern in (
        "/var/lib/apt/lists/*",
        "/var/cache/apt/*.bin",
        "/var/cache/apt/archives/*.deb",
        "/var/log/*.log",
        "/var/log/apt/*",
        "/tmp/*",
        "/var/tmp/*",
        "/root/.bash_history",
    ):
        parent, _, glob = pattern.rpartition("/")
        # Provision steps ran before: any of these may now be a link to a host path.
        inroot.remove_matching(ctx.root, parent, glob, keep=frozenset({"partial", "lock"}))
    # An empty machine-id makes systemd create one, and treat the boot as the first.
    inroot.write_text(ctx.root, "/etc/machine-id", "", 0o444)
    inroot.remove(ctx.root, "/var/lib/dbus/machine-id")
    inroot.remove(ctx.root, "/etc/hostid")
    remove_host_keys(ctx)


def remove_host_keys(ctx: BuildContext) -> None:
    """Every instance makes its own SSH host keys at first boot; none ship in the image.

    Done here, last, because packages installed by provision steps can make new ones.
    """
    inroot.remove_matching(ctx.root, "/etc/ssh", "ssh_host_*")
