"""Files written into the image root from the build host, never outside it.

The image root is a directory on the build host, and what is in it comes from the
image: packages and provision steps make symbolic links such as ``/etc/localtime ->
/usr/share/zoneinfo/Etc/UTC``. Followed by the host, an absolute link points at the
host's own files. So paths are walked one component at a time with directory file
descriptors and ``O_NOFOLLOW``: a link met on the way is resolved as the image would
resolve it (an absolute target starts again at the image root, ``..`` stops there),
and the last component is replaced, never followed, as ``install`` inside the image
would replace a link it is asked to overwrite with a regular file.
"""

from __future__ import annotations

import contextlib
import errno
import fnmatch
import os
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path

from shipyard.errors import BuildError

# The same limit the kernel puts on links followed while resolving one path.
MAX_LINKS = 40
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def install_file(root: Path, path: str, source: Path, mode: int) -> None:
    """Put a copy of the host file ``source`` at the image path ``path``, with ``mode``.

    Missing folders are made (0755); a link at ``path`` is replaced by the file.
    """
    with _parent_dir(root, path, create=True) as (dir_fd, name):
        _refuse_directory(dir_fd, name, path)
        staged = f".{name}.shipyard-new"
        with contextlib.suppress(FileNotFoundError):
            os.unlink(staged, dir_fd=dir_fd)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        fd = os.open(staged, flags, 0o600, dir_fd=dir_fd)
        try:
            with open(fd, "wb") as out, open(source, "rb") as src:
                shutil.copyfileobj(src, out)
                os.fchmod(out.fileno(), mode)
            os.rename(staged, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(staged, dir_fd=dir_fd)
            raise


def write_text(root: Path, path: str, text: str, mode: int) -> None:
    """Write ``text`` to the image path ``path`` (see :func:`install_file`)."""
    with _parent_dir(root, path, create=True) as (dir_fd, name):
        _refuse_directory(dir_fd, name, path)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name, dir_fd=dir_fd)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        fd = os.open(name, flags, 0o600, dir_fd=dir_fd)
        with open(fd, "w", encoding="utf-8") as out:
            out.write(text)
            os.fchmod(out.fileno(), mode)


def lexists(root: Path, path: str) -> bool:
    """Whether anything (a link too) is at the image path ``path``."""
    try:
        with _parent_dir(root, path, create=False) as (dir_fd, name):
            os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except (FileNotFoundError, NotADirectoryError):
        return False
    return True


def remove(root: Path, path: str) -> None:
    """Remove the file or link at the image path ``path``, if there is one."""
    try:
        with _parent_dir(root, path, create=False) as (dir_fd, name):
            os.unlink(name, dir_fd=dir_fd)
    except (FileNotFoundError, NotADirectoryError):
        pass


def remove_matching(
    root: Path, folder: str, pattern: str, *, keep: frozenset[str] = frozenset()
) -> None:
    """Remove the entries of the image folder ``folder`` whose names match ``pattern``.

    Folders are removed with what they hold; links are removed, never followed.
    """
    try:
        fd = _open_dir(root, folder)
    except (FileNotFoundError, NotADirectoryError):
        return
    try:
        for entry in os.scandir(fd):
            if entry.name in keep or not fnmatch.fnmatchcase(entry.name, pattern):
                continue
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.name, dir_fd=fd)
            else:
                os.unlink(entry.name, dir_fd=fd)
    finally:
        os.close(fd)


def _open_dir(root: Path, path: str) -> int:
    root_fd = os.open(root, _DIR_FLAGS)
    try:
        return _walk(root_fd, path.split("/"), path, create=False)
    finally:
        os.close(root_fd)


@contextlib.contextmanager
def _parent_dir(root: Path, path: str, *, create: bool) -> Iterator[tuple[int, str]]:
    """An open descriptor of the folder that holds ``path`` inside ``root``, and the name."""
    *folders, name = path.split("/")
    if name in ("", ".", ".."):
        raise BuildError(f"{path} is a directory in the image, not a file")
    root_fd = os.open(root, _DIR_FLAGS)
    try:
        dir_fd = _walk(root_fd, folders, path, create=create)
    finally:
        os.close(root_fd)
    try:
        yield dir_fd, name
    finally:
        os.close(dir_fd)


def _walk(root_fd: int, parts: list[str], shown: str, *, create: bool) -> int:
    """A new descriptor of the folder ``parts`` leads to, links resolved inside the root."""
    stack = [os.dup(root_fd)]
    pending = list(reversed(parts))
    links = 0
    try:
        while pending:
            part = pending.pop()
            if part in ("", "."):
                continue
            if part == "..":
                if len(stack) > 1:  # the root's parent is the root, as in a chroot
                    os.close(stack.pop())
                continue
            here = stack[-1]
            try:
                info = os.stat(part, dir_fd=here, follow_symlinks=False)
            except FileNotFoundError:
                if not create:
                    raise
                os.mkdir(part, 0o755, dir_fd=here)
                info = os.stat(part, dir_fd=here, follow_symlinks=False)
            if stat.S_ISLNK(info.st_mode):
                links += 1
                if links > MAX_LINKS:
                    raise BuildError(f"{shown}: too many symbolic links in the image")
                target = os.readlink(part, dir_fd=here)
                if target.startswith("/"):
                    while len(stack) > 1:
                        os.close(stack.pop())
                pending.extend(reversed(target.split("/")))
                continue
            if not stat.S_ISDIR(info.st_mode):
                raise BuildError(f"{shown}: {part} is not a directory in the image")
            try:
                stack.append(os.open(part, _DIR_FLAGS, dir_fd=here))
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                    # Swapped for a link since the stat: refuse rather than follow it.
                    raise BuildError(
                        f"{shown}: {part} changed while it was being written"
                    ) from None
                raise
        return stack.pop()
    finally:
        for fd in stack:
            os.close(fd)


def _refuse_directory(dir_fd: int, name: str, shown: str) -> None:
    try:
        info = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(info.st_mode):
        raise BuildError(f"{shown} is a directory in the image")
