"""The instance identity document and the emulator's signing key.

EC2 signs each instance's identity document with a per-region key whose certificate
AWS publishes; the emulator does the same with a key of its own, kept in a state
directory beside its certificate so a verifier can be pointed at ``certificate.pem``.
"""

from __future__ import annotations

import base64
import datetime
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shipyard import paths
from shipyard.files import write_atomic

KEY_NAME = "signing-key.pem"
CERT_NAME = "certificate.pem"


def default_key_dir() -> Path:
    """Where the emulator keeps its key: ``$XDG_STATE_HOME/shipyard/imds``."""
    return paths.state_dir() / "imds"


@dataclass(frozen=True)
class Signer:
    """Signs identity documents; ``certificate`` is the PEM a verifier needs."""

    key_pem: bytes
    certificate: bytes
    certificate_path: Path

    def sign(self, document: bytes) -> str:
        """Base64 RSA-SHA256 signature of ``document`` (what ``/signature`` serves)."""
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import padding, rsa

        key = serialization.load_pem_private_key(self.key_pem, password=None)
        assert isinstance(key, rsa.RSAPrivateKey)
        signature = key.sign(document, padding.PKCS1v15(), hashes.SHA256())
        return base64.b64encode(signature).decode()


def load_signer(key_dir: Path | None = None) -> Signer:
    """The emulator's signer, creating its key and certificate on first use."""
    directory = key_dir or default_key_dir()
    key_path, cert_path = directory / KEY_NAME, directory / CERT_NAME
    if not (key_path.is_file() and cert_path.is_file()):
        _create(directory, key_path, cert_path)
    return Signer(key_path.read_bytes(), cert_path.read_bytes(), cert_path)


def _create(directory: Path, key_path: Path, cert_path: Path) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Shipyard IMDS emulator")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=3650))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    # Written under temporary names and renamed, so a concurrent first use sees a whole pair.
    for path, data, mode in (
        (key_path, key_pem, 0o600),
        (cert_path, cert.public_bytes(serialization.Encoding.PEM), 0o644),
    ):
        write_atomic(path, data, mode=mode)


def verify(document: bytes, signature: str, certificate_pem: bytes) -> bool:
    """True when ``signature`` over ``document`` was made by ``certificate_pem``'s key."""
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    public = x509.load_pem_x509_certificate(certificate_pem).public_key()
    assert isinstance(public, rsa.RSAPublicKey)
    try:
        public.verify(base64.b64decode(signature), document, padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, ValueError):
        return False
    return True


def identity_document(fields: dict[str, Any]) -> bytes:
    """The document as EC2 formats it: pretty-printed JSON."""
    return json.dumps(fields, indent=2).encode()
