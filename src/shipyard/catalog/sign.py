"""Signing and verifying the index with GnuPG (clearsigned ``.sjson`` beside each ``.json``).

The catalog owns one GnuPG home: its secret key signs, its public keys are what local
clients trust. A remote client may instead trust an exported public key file.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from shipyard import paths
from shipyard.errors import CatalogError
from shipyard.proc import run

KEY_UID = "Shipyard image catalog <catalog@shipyard.invalid>"


def default_home() -> Path:
    """$SHIPYARD_CATALOG_GNUPGHOME, else the catalog key ring under the user's data home."""
    env = os.environ.get("SHIPYARD_CATALOG_GNUPGHOME")
    if env:
        return Path(env)
    return paths.data_dir() / "catalog-gnupg"


def _gpg(home: Path, *args: str, input: bytes | None = None, check: bool = True) -> str:
    result = run(
        ["gpg", "--homedir", str(home), "--batch", "--no-tty", "--quiet", *args],
        input=input,
        check=check,
        error=CatalogError,
        what=f"gpg {args[0]}",
    )
    return result.stdout


def _prepare(home: Path) -> None:
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(home, 0o700)


def signing_key(home: Path) -> str | None:
    """Fingerprint of the catalog's secret key, or None if it has none."""
    if not home.is_dir():
        return None
    out = _gpg(home, "--with-colons", "--list-secret-keys", check=False)
    for line in out.splitlines():
        if line.startswith("fpr:"):
            return line.split(":")[9]
    return None


def ensure_key(home: Path) -> str:
    """The catalog's signing key, generated (without passphrase) on first use."""
    _prepare(home)
    found = signing_key(home)
    if found:
        return found
    _gpg(home, "--passphrase", "", "--quick-generate-key", KEY_UID, "ed25519", "sign", "never")
    found = signing_key(home)
    if not found:
        raise CatalogError(f"gpg made no signing key in {home}")
    return found


def export_public(home: Path) -> str:
    """The catalog's public key, ASCII armoured, for clients to trust."""
    return _gpg(home, "--armor", "--export")


def clearsign(home: Path, data: bytes) -> bytes:
    """``data`` clearsigned with the catalog's key."""
    return _sign(home, data, ["--clearsign"], "sign the catalog index")


def detach_sign(home: Path, data: bytes) -> bytes:
    """An ASCII-armoured detached signature of ``data`` by the catalog's key."""
    return _sign(home, data, ["--armor", "--detach-sign"], "sign the provenance")


def _sign(home: Path, data: bytes, how: list[str], what: str) -> bytes:
    fingerprint = ensure_key(home)
    unattended = ["--local-user", fingerprint, "--pinentry-mode", "loopback", "--passphrase", ""]
    result = run(
        ["gpg", "--homedir", str(home), "--batch", "--no-tty", "--quiet", *unattended, *how],
        input=data,
        error=CatalogError,
        what=what,
    )
    return result.stdout.encode()


class Verifier:
    """Checks clearsigned documents against trusted keys (a GnuPG home or a key file)."""

    def __init__(self, trusted: Path) -> None:
        self.trusted = trusted
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._home: Path | None = None

    @property
    def home(self) -> Path:
        """The GnuPG home holding the trusted keys, made on first use."""
        if self._home is not None:
            return self._home
        trusted = self.trusted
        if trusted.is_dir():
            self._home = trusted
        elif trusted.is_file():
            self._tmp = tempfile.TemporaryDirectory(prefix="shipyard-keys-")
            self._home = Path(self._tmp.name)
            _gpg(self._home, "--import", str(trusted))
        else:
            raise CatalogError(
                f"{trusted}: no such key ring or key file to verify the catalog with",
                hint="run `shipyard catalog key` on the catalog host and copy its output here",
            )
        return self._home

    def close(self) -> None:
        if self._tmp is not None:
            stop_agents(self._home or Path(self._tmp.name))
            self._tmp.cleanup()
            self._tmp = None
            self._home = None

    def verify(self, signed: bytes, what: str) -> bytes:
        """The signed payload, if its signature is good; CatalogError otherwise."""
        with tempfile.TemporaryDirectory(prefix="shipyard-verify-") as tmp:
            out = Path(tmp) / "payload"
            result = run(
                [
                    "gpg",
                    "--homedir",
                    str(self.home),
                    "--batch",
                    "--no-tty",
                    "--status-fd",
                    "1",
                    "--output",
                    str(out),
                    "--decrypt",
                ],
                input=signed,
                check=False,
            )
            _check_status(result.stdout, what)
            return out.read_bytes()

    def verify_detached(self, data: bytes, signature: Path, what: str) -> None:
        """CatalogError unless ``signature`` is a good signature of ``data`` by a trusted key."""
        result = run(
            [
                "gpg",
                "--homedir",
                str(self.home),
                "--batch",
                "--no-tty",
                "--status-fd",
                "1",
                "--verify",
                str(signature),
                "-",
            ],
            input=data,
            check=False,
        )
        _check_status(result.stdout, what)


def _check_status(status: str, what: str) -> None:
    """CatalogError unless gpg's status lines show a good signature."""
    if "[GNUPG:] VALIDSIG" in status and "[GNUPG:] BADSIG" not in status:
        return
    if "BADSIG" in status:
        reason = "its signature is bad"
    elif "NO_PUBKEY" in status:
        reason = "it is signed by an unknown key"
    else:
        reason = "it carries no valid signature"
    raise CatalogError(f"{what} was refused: {reason}")


def stop_agents(home: Path) -> None:
    """Stop the gpg-agent that gpg starts for ``home`` (even a key import starts one)."""
    run(["gpgconf", "--homedir", str(home), "--kill", "all"], check=False)


def verifier(trusted: Path | None = None) -> Verifier:
    return Verifier(trusted or default_home())
