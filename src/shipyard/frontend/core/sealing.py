"""Shadow attributes at rest: sealed with a key kept outside the database (Fernet).

A copy of the database alone (a backup, a dump, a stolen file) reveals no secret; the
key comes from the environment or a file readable by the frontend's user only.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from shipyard.errors import FrontendError
from shipyard.frontend.core.problems import Conflict

if TYPE_CHECKING:
    from cryptography.fernet import Fernet

PREFIX = "fernet:"
KEY_ENV = "SHIPYARD_FRONTEND_KEY"


class NoKey(Conflict):
    """A shadow value must be sealed or opened, and no key is configured."""


def new_key() -> str:
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()


def write_key(path: Path) -> None:
    """A fresh key in ``path``, created 0600; an existing key is kept."""
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(new_key() + "\n")


def read_key(path: Path | None) -> str | None:
    """The key from $SHIPYARD_FRONTEND_KEY, else from ``path`` if it exists."""
    if env := os.environ.get(KEY_ENV):
        return env.strip()
    if path is None or not path.exists():
        return None
    try:
        return path.read_text().strip()
    except OSError as exc:
        raise FrontendError(f"cannot read the secret key {path}: {exc.strerror}") from exc


def _fernet(key: str | None) -> Fernet:
    from cryptography.fernet import Fernet

    if not key:
        raise NoKey(
            "shadow attributes are encrypted at rest and this frontend has no secret key "
            f"(${KEY_ENV}, or the key file `frontend init` writes)"
        )
    try:
        return Fernet(key.encode())
    except ValueError as exc:
        raise FrontendError(
            "the secret key is not a Fernet key (32 url-safe base64 bytes)"
        ) from exc


def seal(value: str, key: str | None) -> str:
    return PREFIX + _fernet(key).encrypt(value.encode()).decode()


def unseal(stored: str, key: str | None) -> str:
    """The clear value of a sealed one; a value stored before sealing is returned as is."""
    from cryptography.fernet import InvalidToken

    if not stored.startswith(PREFIX):
        return stored
    fernet = _fernet(key)
    try:
        return fernet.decrypt(stored[len(PREFIX) :].encode()).decode()
    except InvalidToken as exc:
        raise FrontendError("a shadow attribute does not open with this secret key") from exc


def mask(text: str, secrets: list[str], shown: str) -> str:
    """``text`` with every secret replaced by ``shown``, longest first."""
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(secret, shown)
    return text
