"""User data: unpack, tell what it is, run ``#!`` scripts once per instance."""

from __future__ import annotations

import gzip
import io
import json
import os
import subprocess
import zlib
from pathlib import Path

LIMIT = 16 * 1024  # EC2's limit on user data, before unpacking
UNPACKED_LIMIT = 16 * 1024 * 1024  # a gzip bomb stops here


class UserDataError(Exception):
    """The user data cannot be used; the message says why (never what it holds)."""


def unpack(data: bytes) -> bytes:
    if len(data) > LIMIT:
        raise UserDataError(f"user data is {len(data)} bytes, over the {LIMIT}-byte limit")
    if data[:2] != b"\x1f\x8b":
        return data
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as fh:
            out = fh.read(UNPACKED_LIMIT + 1)
    except (OSError, EOFError, zlib.error) as exc:
        raise UserDataError(f"user data looks gzip'd but cannot be unpacked: {exc}") from exc
    if len(out) > UNPACKED_LIMIT:
        raise UserDataError(f"unpacked user data is over {UNPACKED_LIMIT} bytes")
    return out


def kind(data: bytes) -> str:
    """One of: empty, script, register, cloud-config, multipart, json, unknown."""
    head = data.lstrip()[:200]
    if not head:
        return "empty"
    if data.startswith(b"#!"):
        return "script"
    if head.startswith((b"#cloud-config", b"#include", b"#cloud-boothook", b"#part-handler")):
        return "cloud-config"
    lowered = head.lower()
    if lowered.startswith((b"content-type: multipart", b"mime-version:")):
        return "multipart"
    if head.startswith(b"{"):
        try:
            doc = json.loads(data)
        except ValueError:
            return "unknown"
        return "register" if isinstance(doc, dict) and "master" in doc else "json"
    return "unknown"


def run_script(data: bytes, directory: Path, timeout: float) -> int:
    """Store the script root-only in ``directory``, run it, record and return its exit code."""
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(directory, 0o700)
    script = directory / "user-data"
    _write_private(script, data, 0o700)
    log = directory / "user-data.log"
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        try:
            code = subprocess.run(
                [str(script)],
                stdin=subprocess.DEVNULL,
                stdout=fd,
                stderr=subprocess.STDOUT,
                cwd="/",
                timeout=timeout,
                check=False,
            ).returncode
        except subprocess.TimeoutExpired:
            code = -1
        except OSError as exc:
            os.write(fd, f"cannot run the user data script: {exc}\n".encode())
            code = 126
    finally:
        os.close(fd)
    _write_private(directory / "user-data.exit", f"{code}\n".encode(), 0o600)
    return code


def _write_private(path: Path, data: bytes, mode: int) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
