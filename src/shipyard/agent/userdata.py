"""User data: unpack, tell what it is, run ``#!`` scripts once per instance."""

from __future__ import annotations

import gzip
import io
import json
import os
import zlib
from pathlib import Path

from .files import write_atomic
from .spawn import run_logged

TYPE_CHECKING = False  # typing is not imported at boot: see main.py
if TYPE_CHECKING:
    from typing import Any

LIMIT = 16 * 1024  # EC2's limit on user data, before unpacking
UNPACKED_LIMIT = 16 * 1024 * 1024  # a gzip bomb stops here
# A registration request nests two or three levels. Deeper documents are refused: 441
# gzip'd bytes unpack to a million nested brackets, and Python's recursion gives out.
MAX_JSON_DEPTH = 32


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
    """One of: empty, script, cloud-config, multipart, json, unknown (nothing is parsed)."""
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
        return "json"
    return "unknown"


def load_json(data: bytes) -> Any:
    """The JSON document in ``data``; UserDataError when it is not one or nests too deep."""
    too_deep = f"user data is JSON nested deeper than {MAX_JSON_DEPTH} levels"
    try:
        doc = json.loads(data)
    except RecursionError:
        raise UserDataError(too_deep) from None
    except ValueError as exc:
        where = f" (line {exc.lineno})" if isinstance(exc, json.JSONDecodeError) else ""
        raise UserDataError(f"user data starts with {{ but is not valid JSON{where}") from None
    if _depth_over(doc, MAX_JSON_DEPTH):
        raise UserDataError(too_deep)
    return doc


def _depth_over(doc: Any, limit: int) -> bool:
    """Whether lists and objects nest more than ``limit`` deep (no recursion of our own)."""
    stack: list[tuple[Any, int]] = [(doc, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            value = list(value.values())
        if isinstance(value, list):
            if depth > limit:
                return True
            stack.extend((item, depth + 1) for item in value)
    return False


def run_script(data: bytes, directory: Path, timeout: float) -> int:
    """Store the script root-only in ``directory``, run it, record and return its exit code."""
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(directory, 0o700)
    script = directory / "user-data"
    write_atomic(script, data, 0o700)
    log = directory / "user-data.log"
    try:
        ended = run_logged([str(script)], log, timeout, "the user data script")
        code = -1 if ended is None else ended
    except OSError:
        code = 126
    write_atomic(directory / "user-data.exit", f"{code}\n", 0o600)
    return code
