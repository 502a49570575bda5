"""Install the instance's public keys for the image's user, atomically and as that user."""

from __future__ import annotations

import base64
import binascii
import os
import re
import struct
from pathlib import Path

from .files import write_atomic

KEY_TYPES = (
    "ssh-ed25519",
    "ssh-rsa",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
)
BEGIN = "# shipyard-agent: keys from the instance metadata (replaced at each boot)"
END = "# shipyard-agent: end"
_COMMENT = re.compile(r"^[\x20-\x7e]*$")


def valid_key(line: str) -> str | None:
    """The key line normalised (type, blob, comment), or None when it is not a plain key.

    Options before the key type (``command=...``) are refused: metadata keys grant login.
    """
    parts = line.strip().split(None, 2)
    if len(parts) < 2 or parts[0] not in KEY_TYPES:
        return None
    kind, blob = parts[0], parts[1]
    comment = parts[2] if len(parts) == 3 else ""
    if not _COMMENT.match(comment):
        return None
    try:
        raw = base64.b64decode(blob, validate=True)
    except (binascii.Error, ValueError):
        return None
    # The blob starts with its own length-prefixed type name, which must match.
    if len(raw) < 4:
        return None
    (length,) = struct.unpack(">I", raw[:4])
    if raw[4 : 4 + length] != kind.encode() or len(raw) <= 4 + length:
        return None
    return f"{kind} {blob} {comment}".rstrip()


def merge(existing: str, keys: list[str]) -> str:
    """``existing`` authorized_keys with the agent's block replaced by ``keys``."""
    kept: list[str] = []
    inside = False
    for line in existing.splitlines():
        if line == BEGIN:
            inside = True
        elif line == END and inside:
            inside = False
        elif not inside:
            kept.append(line)
    block = [BEGIN, *keys, END] if keys else []
    return "\n".join([*kept, *block]) + "\n" if kept or block else ""


def install(home: Path, uid: int, gid: int, keys: list[str]) -> None:
    """Write ``home/.ssh/authorized_keys`` with ``keys`` in the agent's block.

    Runs the file work as the user (a forked child when we are root and they are not) so
    a symlink the user planted cannot make root write elsewhere.
    """
    if os.getuid() != 0 or uid == 0:
        _write(home, keys)
        return
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child's coverage is not collected
        code = 1
        try:
            os.setgroups([])
            os.setgid(gid)
            os.setuid(uid)
            _write(home, keys)
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise OSError(f"could not write the authorized keys in {home}/.ssh")


def _write(home: Path, keys: list[str]) -> None:
    ssh = home / ".ssh"
    ssh.mkdir(mode=0o700, exist_ok=True)
    os.chmod(ssh, 0o700)
    target = ssh / "authorized_keys"
    try:
        existing = target.read_text()
    except FileNotFoundError:
        existing = ""
    write_atomic(target, merge(existing, keys), 0o600)
