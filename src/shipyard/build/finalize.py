"""Stage finalize: what the image must not carry, and what it holds, recorded."""

from __future__ import annotations

import shutil

from shipyard.build.configure import remove_host_keys
from shipyard.build.context import BuildContext
from shipyard.errors import BuildError
from shipyard.proc import run


def finalize_root(ctx: BuildContext) -> None:
    record_packages(ctx)
    record_kernel(ctx)
    clean_root(ctx)


def record_packages(ctx: BuildContext) -> None:
    out = run(
        [
            "dpkg-query",
            f"--admindir={ctx.in_root('/var/lib/dpkg')}",
            "-W",
            "-f",
            "${db:Status-Status}\t${Package}\t${Version}\n",
        ],
        error=BuildError,
        what="list the installed packages",
    )
    packages: dict[str, str] = {}
    for line in out.stdout.splitlines():
        status, name, version = line.split("\t")
        if status == "installed":
            packages[name] = version
    ctx.packages = dict(sorted(packages.items()))


def record_kernel(ctx: BuildContext) -> None:
    vmlinuz = ctx.in_root("/vmlinuz")
    if not vmlinuz.is_symlink():
        raise BuildError("the image has no /vmlinuz: no kernel package was installed")
    target = vmlinuz.readlink().name
    ctx.kernel = target.removeprefix("vmlinuz-")
    if not ctx.in_root(f"/boot/initrd.img-{ctx.kernel}").exists():
        raise BuildError(f"the image has no initramfs for kernel {ctx.kernel}")


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
        for path in ctx.in_root(parent).glob(glob):
            if path.name == "partial" or path.name == "lock":
                continue
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
    # An empty machine-id makes systemd create one, and treat the boot as the first.
    ctx.in_root("/etc/machine-id").write_text("")
    ctx.in_root("/var/lib/dbus/machine-id").unlink(missing_ok=True)
    ctx.in_root("/etc/hostid").unlink(missing_ok=True)
    remove_host_keys(ctx)
