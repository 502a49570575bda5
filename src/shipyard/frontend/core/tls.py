"""The frontend's TLS certificate: a self-signed one made by `frontend init`, and its pin.

Hosts pin the certificate by the SHA-256 of its DER form (``ca_sha256`` in user data), so
it needs no name a CA would check: the frontend is usually reached by an IP address.
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from shipyard.errors import UsageError
from shipyard.files import write_atomic

CERT_DAYS = 3650


@dataclass(frozen=True)
class TlsFiles:
    cert: Path
    key: Path


def fingerprint(cert_pem: bytes) -> str:
    """The hex SHA-256 of the certificate's DER encoding, the form the agent pins."""
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    try:
        cert = x509.load_pem_x509_certificate(cert_pem)
    except ValueError as exc:
        raise UsageError("the TLS certificate is not a PEM certificate") from exc
    return hashlib.sha256(cert.public_bytes(Encoding.DER)).hexdigest()


def read_fingerprint(path: Path) -> str:
    try:
        return fingerprint(path.read_bytes())
    except OSError as exc:
        raise UsageError(f"cannot read TLS certificate {path}: {exc.strerror}") from exc


def tls_files(cert: str | None, key: str | None) -> TlsFiles | None:
    """Both files or neither; each must be readable."""
    if not cert and not key:
        return None
    if not (cert and key):
        raise UsageError(
            "a TLS certificate needs its key, and a key its certificate", setting="tls_cert"
        )
    for path in (cert, key):
        if not os.access(path, os.R_OK):
            raise UsageError(f"cannot read {path}")
    read_fingerprint(Path(cert))
    return TlsFiles(Path(cert), Path(key))


def make_self_signed(directory: Path, addresses: tuple[str, ...] = ("127.0.0.1",)) -> TlsFiles:
    """Write frontend.crt and frontend.key (0600) into ``directory`` unless they exist."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    files = TlsFiles(directory / "frontend.crt", directory / "frontend.key")
    if files.cert.exists() and files.key.exists():
        return files
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "shipyard frontend")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=CERT_DAYS))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address(a)) for a in addresses]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    private_key = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    write_atomic(files.key, private_key, mode=0o600)
    write_atomic(files.cert, cert.public_bytes(serialization.Encoding.PEM), mode=0o600)
    return files
