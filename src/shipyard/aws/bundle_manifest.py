"""The bundle manifest, version 2007-10-10, byte for byte as ec2-ami-tools writes it.

Its XML is REXML's compact output (single-quoted attributes, no whitespace between
elements). The signature is RSA PKCS#1 v1.5 with SHA-1 over the text of the first
``<machine_configuration>…</machine_configuration>`` followed by that of the first
``<image>…</image>``, cut from the document as strings (not re-serialised), hex-encoded.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, replace

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from shipyard import __version__
from shipyard.aws.bundle_format import BundleStats, SessionKey
from shipyard.errors import PublishError

VERSION = "2007-10-10"
CIPHER = "AES-128-CBC"
DIGEST = "SHA1"
MAX_MANIFEST = 1024 * 1024
# Names and part file names: what needs no XML escaping and is safe as an S3 key or a path.
SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$")
# An instance-store HVM root: the AMI's disk is the instance's sda1.
BLOCK_DEVICES = {"ami": "sda1", "ephemeral0": "sdb", "root": "/dev/sda1"}


@dataclass(frozen=True)
class Manifest:
    """What a manifest says; ``xml`` is the signed document as stored."""

    name: str
    user: str
    architecture: str
    size: int
    bundled_size: int
    digest: str
    ec2_encrypted_key: str
    user_encrypted_key: str
    ec2_encrypted_iv: str
    user_encrypted_iv: str
    parts: tuple[tuple[str, str], ...]  # (filename, sha1 hex)
    block_devices: tuple[tuple[str, str], ...] = tuple(sorted(BLOCK_DEVICES.items()))
    signature: str = ""
    xml: bytes = b""


def _el(tag: str, text: str, **attrs: str) -> str:
    attributes = "".join(f" {k}='{v}'" for k, v in attrs.items())
    return f"<{tag}{attributes}>{text}</{tag}>"


def signed_text(xml: str) -> bytes:
    """The bytes ec2-ami-tools signs: machine_configuration's then image's XML text."""

    def cut(tag: str) -> str:
        start = xml.find(f"<{tag}>")
        end = xml.find(f"</{tag}>")
        if start < 0 or end < 0:
            return ""
        return xml[start : end + len(tag) + 3]

    image = cut("image")
    if not image:
        raise PublishError("the bundle manifest has no <image> element")
    return (cut("machine_configuration") + image).encode()


def build(manifest: Manifest, private_key: rsa.RSAPrivateKey) -> Manifest:
    """``manifest`` with its XML written and signed with the user's ``private_key``."""
    for filename, _ in manifest.parts:
        if not SAFE_NAME.match(filename):
            raise PublishError(f"bundle part name {filename!r} has unsafe characters")
    if not SAFE_NAME.match(manifest.name):
        raise PublishError(f"bundle name {manifest.name!r} has unsafe characters")
    mappings = "".join(
        _el("mapping", _el("virtual", v) + _el("device", d)) for v, d in manifest.block_devices
    )
    machine = _el(
        "machine_configuration",
        _el("architecture", manifest.architecture) + _el("block_device_mapping", mappings),
    )
    parts = "".join(
        f"<part index='{i}'>" + _el("filename", f) + _el("digest", d, algorithm=DIGEST) + "</part>"
        for i, (f, d) in enumerate(manifest.parts)
    )
    image = _el(
        "image",
        _el("name", manifest.name)
        + _el("user", manifest.user)
        + _el("type", "machine")
        + _el("digest", manifest.digest, algorithm=DIGEST)
        + _el("size", str(manifest.size))
        + _el("bundled_size", str(manifest.bundled_size))
        + _el("ec2_encrypted_key", manifest.ec2_encrypted_key, algorithm=CIPHER)
        + _el("user_encrypted_key", manifest.user_encrypted_key, algorithm=CIPHER)
        + _el("ec2_encrypted_iv", manifest.ec2_encrypted_iv)
        + _el("user_encrypted_iv", manifest.user_encrypted_iv)
        + f"<parts count='{len(manifest.parts)}'>{parts}</parts>",
    )
    bundler = _el(
        "bundler",
        _el("name", "shipyard") + _el("version", __version__) + _el("release", "1"),
    )
    body = _el("version", VERSION) + bundler + machine + image
    signature = private_key.sign(signed_text(body), padding.PKCS1v15(), hashes.SHA1()).hex()
    xml = f"<?xml version='1.0'?><manifest>{body}{_el('signature', signature)}</manifest>"
    return replace(manifest, signature=signature, xml=xml.encode())


def for_bundle(
    name: str,
    account: str,
    architecture: str,
    stats: BundleStats,
    session_key: SessionKey,
    ec2_key: rsa.RSAPublicKey,
    user_key: rsa.RSAPrivateKey,
) -> Manifest:
    """The signed manifest of a finished bundle, its key sealed for EC2 and for the user."""
    ec2_sealed = session_key.encrypt_for(ec2_key)
    user_sealed = session_key.encrypt_for(user_key.public_key())
    return build(
        Manifest(
            name=name,
            user=account,
            architecture=architecture,
            size=stats.size,
            bundled_size=stats.bundled_size,
            digest=stats.digest,
            ec2_encrypted_key=ec2_sealed[0],
            user_encrypted_key=user_sealed[0],
            ec2_encrypted_iv=ec2_sealed[1],
            user_encrypted_iv=user_sealed[1],
            parts=tuple(stats.parts),
        ),
        user_key,
    )


def _text(root: ET.Element, path: str, where: str) -> str:
    element = root.find(path)
    if element is None or not (element.text or "").strip():
        raise PublishError(f"{where}: the bundle manifest has no {path}")
    return (element.text or "").strip()


def _hex(value: str, what: str, where: str) -> str:
    if not re.fullmatch(r"[0-9a-fA-F]+", value) or len(value) % 2:
        raise PublishError(f"{where}: {what} in the bundle manifest is not hex")
    return value.lower()


def parse(data: bytes, where: str) -> Manifest:
    """A manifest from hostile bytes; PublishError naming ``where`` for anything off."""
    if len(data) > MAX_MANIFEST:
        raise PublishError(f"{where}: the bundle manifest is larger than 1 MiB")
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise PublishError(f"{where}: the bundle manifest declares a DOCTYPE or entities")
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise PublishError(f"{where}: the bundle manifest is not XML: {exc}") from None
    if root.tag != "manifest" or _text(root, "version", where) != VERSION:
        raise PublishError(f"{where}: not a bundle manifest of version {VERSION}")
    for path, expected in (
        ("image/digest", DIGEST),
        ("image/user_encrypted_key", CIPHER),
    ):
        found = root.find(path)
        algorithm = found.get("algorithm") if found is not None else None
        if algorithm != expected:
            raise PublishError(f"{where}: {path} uses {algorithm!r}, not {expected}")
    parts: list[tuple[str, str]] = []
    for index, part in enumerate(root.findall("image/parts/part")):
        if part.get("index") != str(index):
            raise PublishError(f"{where}: bundle part {index} is out of order")
        filename = _text(part, "filename", where)
        if not SAFE_NAME.match(filename) or ".." in filename:
            raise PublishError(f"{where}: bundle part name {filename!r} is not a plain file name")
        parts.append((filename, _hex(_text(part, "digest", where), "a part digest", where)))
    if not parts:
        raise PublishError(f"{where}: the bundle manifest lists no parts")
    try:
        size = int(_text(root, "image/size", where))
        bundled = int(_text(root, "image/bundled_size", where))
    except ValueError:
        raise PublishError(f"{where}: the bundle manifest's sizes are not numbers") from None
    return Manifest(
        name=_text(root, "image/name", where),
        user=_text(root, "image/user", where),
        architecture=(root.findtext("machine_configuration/architecture") or "").strip(),
        size=size,
        bundled_size=bundled,
        digest=_hex(_text(root, "image/digest", where), "the image digest", where),
        ec2_encrypted_key=_text(root, "image/ec2_encrypted_key", where),
        user_encrypted_key=_hex(_text(root, "image/user_encrypted_key", where), "a key", where),
        ec2_encrypted_iv=_text(root, "image/ec2_encrypted_iv", where),
        user_encrypted_iv=_hex(_text(root, "image/user_encrypted_iv", where), "an IV", where),
        parts=tuple(parts),
        signature=_hex(_text(root, "signature", where), "the signature", where),
        xml=data,
    )


def verify(manifest: Manifest, public_key: rsa.RSAPublicKey, where: str) -> None:
    """PublishError unless the manifest's signature is ``public_key``'s."""
    try:
        public_key.verify(
            bytes.fromhex(manifest.signature),
            signed_text(manifest.xml.decode("utf-8", errors="replace")),
            padding.PKCS1v15(),
            hashes.SHA1(),
        )
    except InvalidSignature:
        raise PublishError(
            f"{where}: the bundle manifest's signature does not match this key",
            hint="the manifest was changed, or was signed with another key",
        ) from None
