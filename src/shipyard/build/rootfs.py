"""The image root as a copy-on-write layer over a cached base tree.

The build enters a mount namespace of its own, then mounts an overlay: the cached base
(read-only, shared by concurrent builds) below, the build's scratch directory above.
A warm build thus starts in milliseconds instead of copying the base, and the mount
vanishes with the process however it ends. Where overlays or namespaces are not
allowed (some containers), the base is copied instead.
"""

from __future__ import annotations

import ctypes
import errno
import logging
import os
from pathlib import Path

from shipyard.build.context import BuildContext
from shipyard.errors import BuildError, ToolError
from shipyard.proc import run

log = logging.getLogger("shipyard.build")

CLONE_NEWNS = 0x00020000
MS_REC = 0x4000
MS_PRIVATE = 1 << 18


def enter_private_mount_namespace() -> bool:
    """Move this thread (and the children it starts) into a new, private mount namespace."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(CLONE_NEWNS) != 0:
        log.debug("unshare(CLONE_NEWNS) failed: %s", os.strerror(ctypes.get_errno()))
        return False
    if libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None) != 0:
        err = ctypes.get_errno()
        raise BuildError(f"cannot make the build's mounts private: {os.strerror(err)}")
    return True


def mount_root(ctx: BuildContext, base: Path) -> None:
    """Make ``ctx.root`` a writable view of ``base``."""
    ctx.root.mkdir(exist_ok=True)
    if enter_private_mount_namespace() and _mount_overlay(ctx, base):
        return
    log.info("bootstrap: overlays are not available here; copying the cached base")
    run(
        ["cp", "-a", "--reflink=auto", f"{base}/.", ctx.root],
        error=BuildError,
        what="copy the cached base system",
    )


def _mount_overlay(ctx: BuildContext, base: Path) -> bool:
    upper, work = ctx.work_dir / "upper", ctx.work_dir / "overlay-work"
    upper.mkdir()
    work.mkdir()
    options = f"lowerdir={base},upperdir={upper},workdir={work}"
    try:
        run(["mount", "-t", "overlay", "overlay", "-o", options, ctx.root])
    except ToolError as exc:
        log.debug("overlay mount failed: %s", exc)
        return False
    ctx.cleanup.register(f"unmount {ctx.root}", lambda: _unmount(ctx.root), always=True)
    return True


def _unmount(path: Path) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    MNT_DETACH = 2
    if libc.umount2(str(path).encode(), MNT_DETACH) != 0 and ctypes.get_errno() != errno.EINVAL:
        raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()), str(path))
