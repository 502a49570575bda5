"""Writing files in the guest so that a crash or a reader sees all or nothing (stdlib only).

The agent runs alone in the image, so it keeps this copy of what shipyard.files does.
"""

from __future__ import annotations

import os
from pathlib import Path


def write_atomic(
    path: str | Path, data: bytes | str, mode: int, owner: tuple[int, int] | None = None
) -> None:
    """Replace ``path`` with ``data`` (text is UTF-8), created with ``mode`` (and ``owner``).

    The bytes go to a temporary file beside it, synced, renamed over ``path``, and the
    folder synced; nothing is left behind on failure.
    """
    folder = os.path.dirname(path) or "."
    fd, tmp = _create_beside(folder, os.path.basename(path))
    try:
        os.fchmod(fd, mode)
        if owner is not None:
            os.fchown(fd, *owner)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data.encode() if isinstance(data, str) else data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    dir_fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _create_beside(folder: str, name: str) -> tuple[int, str]:
    """A new file of ours in ``folder``, opened for writing. Not tempfile: it imports
    shutil, random and the compression modules, a tenth of a second at first boot under
    emulation."""
    for attempt in range(100):
        tmp = os.path.join(folder, f".{name}.{os.getpid()}.{attempt}")
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name beside {name} in {folder}")
