"""EC2's image bundle (instance-store AMIs), written as a stream from a sparse disk.

The bundle is what ``ec2-bundle-image`` makes: a GNU tar of the image (holes kept as a
sparse member) → SHA-1 of the tar → gzip → AES-128-CBC → 10 MiB parts, each with its
SHA-1. As in ec2-ami-tools, the AES key and IV are random 16 bytes written as 32
lower-case hex digits, and it is those hex strings that are encrypted (RSA, PKCS#1 v1.5)
for EC2 and for the user: ``openssl pkeyutl -decrypt`` gives what ``openssl enc -K``
takes. Nothing is copied to disk: parts are produced one at a time, in memory.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import padding as sym_padding
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from shipyard.errors import PublishError
from shipyard.sparse import data_extents

PART_SIZE = 10 * 1024 * 1024  # ec2-ami-tools' CHUNK_SIZE
MAX_IMAGE_SIZE = 10 * 2**30  # the largest image EC2 unbundles onto an instance store
GZIP_LEVEL = 6  # the format does not care; -9 costs about 3x the CPU for ~2% less
_READ = 1024 * 1024
_TAR_BLOCK = 512

# EC2's public certificate per partition, as shipped with ec2-ami-tools.
EC2_CERTS = {"aws": "ec2-standard.pem", "aws-us-gov": "ec2-govcloud.pem", "aws-cn": "ec2-china.pem"}


def partition(region: str) -> str:
    """The AWS partition of ``region``: aws, aws-us-gov or aws-cn."""
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    if region.startswith("cn-"):
        return "aws-cn"
    return "aws"


def ec2_certificate(region: str) -> x509.Certificate:
    """EC2's certificate for ``region``'s partition (its key decrypts bundles on EC2)."""
    name = EC2_CERTS[partition(region)]
    data = resources.files("shipyard.aws").joinpath("certs", name).read_bytes()
    return x509.load_pem_x509_certificate(data)


def load_certificate(path: Path) -> x509.Certificate:
    """An X.509 certificate (PEM or DER) from ``path``; PublishError naming it if not."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise PublishError(f"{path}: cannot read the certificate: {exc.strerror}") from None
    try:
        if b"-----BEGIN" in data:
            return x509.load_pem_x509_certificate(data)
        return x509.load_der_x509_certificate(data)
    except ValueError:
        raise PublishError(f"{path}: not an X.509 certificate (PEM or DER)") from None


def load_private_key(path: Path) -> rsa.RSAPrivateKey:
    """An unencrypted RSA private key (PEM) from ``path``; PublishError naming it if not."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise PublishError(f"{path}: cannot read the private key: {exc.strerror}") from None
    try:
        key = load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        # Never echo the file: it is a secret.
        raise PublishError(
            f"{path}: not an unencrypted PEM private key",
            hint="EC2 bundles need the RSA key of the user's X.509 certificate",
        ) from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise PublishError(f"{path}: EC2 bundles need an RSA private key")
    return key


def rsa_public_key(cert: x509.Certificate, what: str) -> rsa.RSAPublicKey:
    key = cert.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise PublishError(f"{what}: the certificate's key is not RSA")
    return key


@dataclass(frozen=True)
class SessionKey:
    """The AES key and IV of one bundle, as the hex strings ec2-ami-tools uses."""

    key_hex: str = field(repr=False)
    iv_hex: str = field(repr=False)

    @classmethod
    def random(cls) -> SessionKey:
        return cls(secrets.token_bytes(16).hex(), secrets.token_bytes(16).hex())

    def encrypt_for(self, public_key: rsa.RSAPublicKey) -> tuple[str, str]:
        """(key, iv) encrypted for ``public_key`` (PKCS#1 v1.5), hex-encoded."""
        pad = padding.PKCS1v15()
        return (
            public_key.encrypt(self.key_hex.encode(), pad).hex(),
            public_key.encrypt(self.iv_hex.encode(), pad).hex(),
        )

    @classmethod
    def decrypt_with(cls, private_key: rsa.RSAPrivateKey, key: str, iv: str) -> SessionKey:
        """The session key from its hex-encoded encrypted key and IV."""
        pad = padding.PKCS1v15()
        try:
            key_hex = private_key.decrypt(bytes.fromhex(key), pad).decode("ascii")
            iv_hex = private_key.decrypt(bytes.fromhex(iv), pad).decode("ascii")
            bytes.fromhex(key_hex), bytes.fromhex(iv_hex)
        except ValueError:
            raise PublishError(
                "the bundle's key cannot be decrypted with this private key",
                hint="give the key of the certificate the bundle was made for",
            ) from None
        if len(key_hex) != 32 or len(iv_hex) != 32:
            raise PublishError("the bundle's AES key or IV is not 16 bytes")
        return cls(key_hex, iv_hex)

    def cipher(self) -> Cipher[modes.CBC]:
        key, iv = bytes.fromhex(self.key_hex), bytes.fromhex(self.iv_hex)
        return Cipher(algorithms.AES(key), modes.CBC(iv))


@dataclass(frozen=True)
class Part:
    """One part of a bundle: its name, bytes and SHA-1."""

    index: int
    filename: str
    data: bytes = field(repr=False)
    sha1: str


@dataclass
class BundleStats:
    """What a bundle came to, known once its last part is made."""

    size: int = 0  # the image's size
    bundled_size: int = 0  # sum of the parts' sizes
    digest: str = ""  # SHA-1 of the tar, hex
    parts: list[tuple[str, str]] = field(default_factory=list)  # (filename, sha1 hex)


# --- tar (GNU format, old-style sparse member, as `tar -S` writes it) -------------------


def _number(value: int, width: int) -> bytes:
    """A tar number field: octal with a NUL, or GNU base-256 when octal cannot hold it."""
    if value < 8 ** (width - 1):
        return f"{value:0{width - 1}o}".encode() + b"\0"
    return bytes([0x80]) + value.to_bytes(width - 1, "big")


def _sparse_entries(extents: list[tuple[int, int]]) -> bytes:
    return b"".join(_number(start, 12) + _number(end - start, 12) for start, end in extents)


def tar_header(name: str, size: int, extents: list[tuple[int, int]], mtime: int) -> bytes:
    """The header block(s) of a sparse member ``name`` of ``size`` bytes holding ``extents``."""
    stored = sum(end - start for start, end in extents)
    header = bytearray(_TAR_BLOCK)
    header[0:100] = name.encode().ljust(100, b"\0")
    header[100:108] = _number(0o644, 8)
    header[108:116] = _number(0, 8)  # uid (--owner 0)
    header[116:124] = _number(0, 8)  # gid (--group 0)
    header[124:136] = _number(stored, 12)
    header[136:148] = _number(mtime, 12)
    header[156:157] = b"S"
    header[257:265] = b"ustar  \0"  # the GNU magic
    header[265:269] = b"root"
    header[297:301] = b"root"
    first, rest = extents[:4], extents[4:]
    header[386 : 386 + 24 * len(first)] = _sparse_entries(first)
    header[482] = 1 if rest else 0
    header[483:495] = _number(size, 12)
    header[148:156] = b" " * 8
    header[148:156] = f"{sum(header):06o}".encode() + b"\0 "
    blocks = [bytes(header)]
    while rest:
        chunk, rest = rest[:21], rest[21:]
        ext = bytearray(_TAR_BLOCK)
        ext[0 : 24 * len(chunk)] = _sparse_entries(chunk)
        ext[504] = 1 if rest else 0
        blocks.append(bytes(ext))
    return b"".join(blocks)


def _extents(fd: int, size: int) -> list[tuple[int, int]]:
    """Data extents, merged; a file ending in a hole gets GNU tar's empty final entry."""
    merged: list[tuple[int, int]] = []
    for start, end in data_extents(fd, size):
        if merged and merged[-1][1] >= start:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    if not merged or merged[-1][1] < size:
        merged.append((size, size))
    return merged


def tar_stream(disk: Path, name: str) -> Iterator[bytes]:
    """The tar of ``disk`` as member ``name``, in chunks; holes are not read."""
    fd = os.open(disk, os.O_RDONLY)
    try:
        st = os.fstat(fd)
        extents = _extents(fd, st.st_size)
        yield tar_header(name, st.st_size, extents, int(st.st_mtime))
        stored = 0
        for start, end in extents:
            offset = start
            while offset < end:
                chunk = os.pread(fd, min(_READ, end - offset), offset)
                if not chunk:
                    raise PublishError(f"{disk}: shorter than expected while bundling")
                offset += len(chunk)
                stored += len(chunk)
                yield chunk
        yield bytes(-stored % _TAR_BLOCK) + bytes(2 * _TAR_BLOCK)  # padding, end of archive
    finally:
        os.close(fd)


# --- the bundle stream -------------------------------------------------------------------


def part_names(name: str, count_bound: int) -> Callable[[int], str]:
    """``name.part.NN``: ec2-ami-tools pads the index to the digits of the part count;
    streamed, the count is not known until the end, so an upper bound sets the width."""
    digits = max(2, len(str(max(count_bound - 1, 0))))
    return lambda index: f"{name}.part.{index:0{digits}d}"


def part_bound(disk: Path) -> int:
    """At most how many parts ``disk`` can make (data plus gzip's worst-case growth)."""
    fd = os.open(disk, os.O_RDONLY)
    try:
        size = os.fstat(fd).st_size
        data = sum(end - start for start, end in _extents(fd, size))
    finally:
        os.close(fd)
    worst = data + data // 1000 + 64 * 1024 + 16
    return max(1, -(-worst // PART_SIZE))


def bundle_parts(
    disk: Path, name: str, session_key: SessionKey, stats: BundleStats
) -> Iterator[Part]:
    """The encrypted parts of ``disk``, one at a time; ``stats`` is filled as they come.

    The same disk and key give the same bytes every time (gzip's header carries no time),
    which is what lets an interrupted upload skip the parts already sent.
    """
    names = part_names(name, part_bound(disk))
    tar_sha1 = hashlib.sha1()
    compressor = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 31)
    encryptor = session_key.cipher().encryptor()
    padder = sym_padding.PKCS7(128).padder()
    pending = bytearray()
    index = 0

    def cut(final: bool) -> Iterator[Part]:
        nonlocal index, pending
        while len(pending) >= PART_SIZE or (final and pending):
            data = bytes(pending[:PART_SIZE])
            del pending[:PART_SIZE]
            part = Part(index, names(index), data, hashlib.sha1(data).hexdigest())
            stats.parts.append((part.filename, part.sha1))
            stats.bundled_size += len(data)
            index += 1
            yield part

    for chunk in tar_stream(disk, name):
        tar_sha1.update(chunk)
        compressed = compressor.compress(chunk)
        if compressed:
            pending += encryptor.update(padder.update(compressed))
        yield from cut(False)
    tail = compressor.flush()
    pending += encryptor.update(padder.update(tail) + padder.finalize()) + encryptor.finalize()
    stats.size = disk.stat().st_size
    stats.digest = tar_sha1.hexdigest()
    yield from cut(True)
