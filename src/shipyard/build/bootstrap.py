"""Stage bootstrap: a Debian root tree from mmdebstrap, or from the base cache."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from shipyard.build.cache import cache_key
from shipyard.build.chroot import ISOLATED
from shipyard.build.context import BaseSystem, BuildContext
from shipyard.build.packages import apt_sources, package_set
from shipyard.build.rootfs import mount_root
from shipyard.errors import BuildError
from shipyard.manifest.schema import Manifest
from shipyard.proc import run

log = logging.getLogger("shipyard.build")

VARIANT = "minbase"
MERGED_USR_HOOKS = "/usr/share/mmdebstrap/hooks/merged-usr"
# Left out of images unless packages.docs is set; copyright files always stay.
DOC_EXCLUDES = (
    "path-exclude=/usr/share/man/*",
    "path-exclude=/usr/share/info/*",
    "path-exclude=/usr/share/doc/*",
    "path-include=/usr/share/doc/*/copyright",
    "path-exclude=/usr/share/locale/*",
    "path-include=/usr/share/locale/locale.alias",
    "path-exclude=/usr/share/lintian/*",
)
# udev's hardware database sources, left out unless packages.hwdb is set: udev's own
# postinst then compiles an empty database instead of a 13 MiB one. dpkg matches the
# paths a package names, which are still under /lib for bookworm's udev.
HWDB_EXCLUDES = ("path-exclude=/lib/udev/hwdb.d/*", "path-exclude=/usr/lib/udev/hwdb.d/*")


def dpkg_excludes(m: Manifest) -> tuple[str, ...]:
    """The files dpkg leaves out of every package it installs."""
    return (*(() if m.packages.docs else DOC_EXCLUDES), *(() if m.packages.hwdb else HWDB_EXCLUDES))


def base_inputs(m: Manifest) -> dict[str, object]:
    """Everything that determines the bootstrapped tree (its cache key's inputs)."""
    return {
        "release": m.system.release,
        "architecture": m.system.architecture,
        "variant": VARIANT,
        "sources": apt_sources(m),
        "packages": list(package_set(m)),
        "exclude": sorted(m.packages.exclude),
        # packages.docs and packages.hwdb, as the files they leave out.
        "dpkg_excludes": list(dpkg_excludes(m)),
        "hooks": [MERGED_USR_HOOKS, *initramfs_hooks(m)],
    }


def bootstrap_root(ctx: BuildContext) -> BaseSystem:
    """Make ``ctx.root`` the base system, bootstrapping it only when no cached base fits."""
    key = cache_key(base_inputs(ctx.manifest))
    with ctx.cache.lock(f"base-{key}"):
        base = ctx.cache.fresh_base(key) if ctx.use_cache else None
        reused = base is not None
        if base is not None:
            log.info("bootstrap: reusing cached base %s", key)
        else:
            ctx.cache.remove_stale_trees()
            tree = ctx.cache.new_base_dir(key, ctx.build_id)
            ctx.cleanup.register(f"remove {tree}", lambda: shutil.rmtree(tree, True), always=True)
            version = _mmdebstrap(ctx, tree)
            base = ctx.cache.install_base(
                key, tree, {"mmdebstrap": version, "build_id": ctx.build_id}
            )
    mmdebstrap = ctx.cache.read_base_meta(key).get("mmdebstrap", "unknown")
    mount_root(ctx, base)
    return BaseSystem(key=key, reused=reused, mmdebstrap=str(mmdebstrap))


# The kernel's postinst made the initramfs with the files' install times inside; made
# again dated like the rest of the image (the packages' own newest date, as
# reproducible.source_date_epoch finds it), the same packages give the same initramfs.
INITRAMFS_AGAIN = (
    "--customize-hook="
    'if [ -x "$1"/usr/sbin/update-initramfs ]; then '
    'SOURCE_DATE_EPOCH=$(find "$1"/usr/share/doc -maxdepth 2 '
    "\\( -name changelog.Debian.gz -o -name copyright \\) -printf '%T@\\n' "
    "| sort -n | tail -n 1 | cut -d. -f1) "
    'chroot "$1" update-initramfs -u -k all; fi'
)


# The disk drivers an instance's root can sit behind: Xen's and virtio's. NVMe (EC2's
# Nitro) and ext4 are built into the cloud kernels. The initramfs shrinks from about
# 13 MB to 6 MB, and the early boot has fewer modules to decompress and load.
CLOUD_DRIVERS = ("virtio_pci", "virtio_mmio", "virtio_blk", "virtio_scsi", "sd_mod", "xen-blkfront")


def initramfs_hooks(m: Manifest) -> list[str]:
    """The customize hooks that configure and remake the initramfs, last of the bootstrap."""
    hooks = []
    # Without one at boot ("none"), the small initramfs stays in the image as a fallback.
    if m.system.initramfs in ("cloud", "none"):
        modules = "\\n".join(CLOUD_DRIVERS)
        hooks.append(
            '--customize-hook=if [ -d "$1"/etc/initramfs-tools ]; then '
            'echo MODULES=list > "$1"/etc/initramfs-tools/conf.d/shipyard.conf && '
            f'printf "{modules}\\n" >> "$1"/etc/initramfs-tools/modules; fi'
        )
    return [*hooks, INITRAMFS_AGAIN]


def _mmdebstrap(ctx: BuildContext, target: Path) -> str:
    """Bootstrap ``target``; returns the version of mmdebstrap that did it."""
    m = ctx.manifest
    debs = ctx.cache.debs(m.system.release, m.system.architecture)
    downloaded = ctx.work_dir / "downloaded-debs"
    downloaded.mkdir()
    argv: list[str] = [
        *ISOLATED,
        "mmdebstrap",
        f"--variant={VARIANT}",
        "--mode=root",
        f"--architectures={m.system.architecture}",
        f"--include={','.join(package_set(m))}",
        '--aptopt=Acquire::Retries "3"',
        "--dpkgopt=force-unsafe-io",
        "--skip=essential/unlink",
        # Keep the package lists in the base so provision steps can apt-get install
        # straight away; finalize removes them from the image.
        "--skip=cleanup/apt/lists",
        '--setup-hook=mkdir -p "$1"/var/cache/apt/archives/',
        f"--setup-hook=sync-in {debs} /var/cache/apt/archives/",
        f"--customize-hook=sync-out /var/cache/apt/archives {downloaded}",
    ]
    argv += [f"--dpkgopt={rule}" for rule in dpkg_excludes(m)]
    if m.packages.exclude:
        names = " ".join(m.packages.exclude)
        argv.append(
            f'--customize-hook=chroot "$1" apt-get purge -y --allow-remove-essential {names}'
        )
    if m.system.release != "bullseye":
        # Merged /usr made by mmdebstrap's own hook: its essential phase otherwise picks
        # usrmerge, and with it perl, for init-system-helpers.
        argv.append(f"--hook-dir={MERGED_USR_HOOKS}")
    argv += initramfs_hooks(m)
    argv += [m.system.release, str(target), *apt_sources(m)]
    version = _mmdebstrap_version()
    try:
        run(argv, error=BuildError, what="mmdebstrap", log_file=ctx.log_file)
    finally:
        ctx.cache.adopt_debs(downloaded, m.system.release, m.system.architecture)
        shutil.rmtree(downloaded, ignore_errors=True)
    return version


def _mmdebstrap_version() -> str:
    out = run(["mmdebstrap", "--version"], check=False)
    return out.stdout.strip().split()[-1] if out.stdout.strip() else "unknown"
