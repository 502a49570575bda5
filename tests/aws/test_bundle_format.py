"""EC2 bundles: a round trip, and an independent check with the openssl command line."""

from __future__ import annotations

import gzip
import hashlib
import io
import subprocess
import tarfile
from pathlib import Path

import pytest
from bundleloop import filesystem_disk, user_identity

from shipyard.aws.bundle_format import (
    PART_SIZE,
    BundleStats,
    SessionKey,
    bundle_parts,
    ec2_certificate,
    load_private_key,
    rsa_public_key,
)
from shipyard.aws.bundle_manifest import Manifest, for_bundle, parse, verify
from shipyard.aws.bundle_unpack import unpack
from shipyard.errors import PublishError


def make_bundle(
    disk: Path, folder: Path, cert: Path, key: Path
) -> tuple[Manifest, dict[str, bytes], SessionKey]:
    session_key = SessionKey.random()
    stats = BundleStats()
    parts = {p.filename: p.data for p in bundle_parts(disk, "image", session_key, stats)}
    ec2_key = rsa_public_key(ec2_certificate("us-east-1"), "ec2")
    manifest = for_bundle(
        "image", "123456789012", "x86_64", stats, session_key, ec2_key, load_private_key(key)
    )
    for name, data in parts.items():
        (folder / name).write_bytes(data)
    (folder / "image.manifest.xml").write_bytes(manifest.xml)
    return manifest, parts, session_key


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path, Path, Manifest]:
    folder = tmp_path_factory.mktemp("bundle")
    disk = folder / "disk.raw"
    filesystem_disk(disk)
    cert, key = user_identity(folder)
    out = folder / "bundle"
    out.mkdir()
    manifest, _, _ = make_bundle(disk, out, cert, key)
    return disk, out, cert, key, manifest


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_round_trip_gives_the_same_bytes_and_keeps_holes(
    bundle: tuple[Path, Path, Path, Path, Manifest], tmp_path: Path
) -> None:
    disk, folder, _, key, _ = bundle
    manifest = parse((folder / "image.manifest.xml").read_bytes(), "image.manifest.xml")
    private = load_private_key(key)
    verify(manifest, private.public_key(), "image.manifest.xml")
    session_key = SessionKey.decrypt_with(
        private, manifest.user_encrypted_key, manifest.user_encrypted_iv
    )
    out = tmp_path / "disk.raw"

    unpack(manifest, session_key, lambda name: (folder / name).read_bytes(), out)

    assert sha256(out) == sha256(disk)
    assert out.stat().st_blocks <= disk.stat().st_blocks
    assert len(manifest.parts) >= 2  # 13 MiB of random data cannot fit one 10 MiB part
    assert all(len((folder / n).read_bytes()) == PART_SIZE for n, _ in manifest.parts[:-1])


def test_openssl_alone_decrypts_the_bundle_and_verifies_the_signature(
    bundle: tuple[Path, Path, Path, Path, Manifest], tmp_path: Path
) -> None:
    disk, folder, cert, key, manifest = bundle

    def openssl(*args: str, data: bytes | None = None) -> bytes:
        return subprocess.run(
            ["openssl", *args], input=data, capture_output=True, check=True, timeout=120
        ).stdout

    def decrypt_rsa(hex_text: str) -> str:
        blob = tmp_path / "blob"
        blob.write_bytes(bytes.fromhex(hex_text))
        return openssl("pkeyutl", "-decrypt", "-inkey", str(key), "-in", str(blob)).decode()

    aes_key = decrypt_rsa(manifest.user_encrypted_key)
    aes_iv = decrypt_rsa(manifest.user_encrypted_iv)
    encrypted = b"".join((folder / name).read_bytes() for name, _ in manifest.parts)
    for name, digest in manifest.parts:
        out = openssl("dgst", "-sha1", "-r", str(folder / name)).decode().split()[0]
        assert out == digest
    compressed = openssl("enc", "-d", "-aes-128-cbc", "-K", aes_key, "-iv", aes_iv, data=encrypted)
    plain_tar = gzip.decompress(compressed)
    assert hashlib.sha1(plain_tar).hexdigest() == manifest.digest
    with tarfile.open(fileobj=io.BytesIO(plain_tar)) as tar:
        member = tar.getmember("image")
        image = tar.extractfile(member)
        assert image is not None
        assert hashlib.sha256(image.read()).hexdigest() == sha256(disk)

    # The signature covers <machine_configuration> then <image>, as text cut from the XML.
    text = manifest.xml.decode()
    signed = (
        text[text.index("<machine_configuration>") : text.index("</machine_configuration>") + 24]
        + text[text.index("<image>") : text.index("</image>") + 8]
    )
    (tmp_path / "signed").write_text(signed)
    (tmp_path / "sig").write_bytes(bytes.fromhex(manifest.signature))
    openssl("x509", "-in", str(cert), "-pubkey", "-noout", "-out", str(tmp_path / "pub.pem"))
    verified = openssl(
        "dgst", "-sha1", "-verify", str(tmp_path / "pub.pem"),
        "-signature", str(tmp_path / "sig"), str(tmp_path / "signed"),
    )  # fmt: skip
    assert b"Verified OK" in verified


def test_manifest_layout_matches_ec2_ami_tools(
    bundle: tuple[Path, Path, Path, Path, Manifest],
) -> None:
    text = bundle[4].xml.decode()
    assert text.startswith("<?xml version='1.0'?><manifest><version>2007-10-10</version>")
    assert "<machine_configuration><architecture>x86_64</architecture>" in text
    assert "<digest algorithm='SHA1'>" in text
    assert "<user_encrypted_key algorithm='AES-128-CBC'>" in text
    assert f"<parts count='{len(bundle[4].parts)}'><part index='0'>" in text
    assert text.endswith(f"<signature>{bundle[4].signature}</signature></manifest>")


def test_a_changed_manifest_or_part_is_refused(
    bundle: tuple[Path, Path, Path, Path, Manifest], tmp_path: Path
) -> None:
    _, folder, _, key, manifest = bundle
    private = load_private_key(key)
    tampered = manifest.xml.replace(b"<size>", b"<size>1")
    with pytest.raises(PublishError, match="signature does not match"):
        verify(parse(tampered, "m"), private.public_key(), "m")

    session_key = SessionKey.decrypt_with(
        private, manifest.user_encrypted_key, manifest.user_encrypted_iv
    )
    first = manifest.parts[0][0]

    def damaged(name: str) -> bytes:
        data = (folder / name).read_bytes()
        return data[:100] + bytes([data[100] ^ 1]) + data[101:] if name == first else data

    with pytest.raises(PublishError, match=f"part {first} does not match its digest"):
        unpack(manifest, session_key, damaged, tmp_path / "out.raw")
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(
    ("xml", "problem"),
    [
        (b"<?xml version='1.0'?><!DOCTYPE x [<!ENTITY a 'b'>]><manifest/>", "DOCTYPE"),
        (b"not xml", "not XML"),
        (b"<manifest><version>2007-08-29</version></manifest>", "not a bundle manifest"),
    ],
)
def test_hostile_manifests_get_one_sentence(xml: bytes, problem: str) -> None:
    with pytest.raises(PublishError, match=problem):
        parse(xml, "m.xml")


def test_a_part_name_that_climbs_out_is_refused(
    bundle: tuple[Path, Path, Path, Path, Manifest],
) -> None:
    xml = bundle[4].xml.replace(b"<filename>image.part.", b"<filename>../image.part.", 1)
    with pytest.raises(PublishError, match="not a plain file name"):
        parse(xml, "m.xml")


def test_each_partition_has_its_ec2_certificate() -> None:
    subjects = {
        region: ec2_certificate(region).subject.rfc4514_string()
        for region in ("eu-west-1", "us-gov-west-1", "cn-north-1")
    }
    assert len(set(subjects.values())) == 3
    assert "ec2-ami-gov-west-1" in subjects["us-gov-west-1"]


@pytest.mark.build
def test_a_real_build_round_trips(minimal_build: Path, tmp_path: Path) -> None:
    from shipyard.record import load

    disk = minimal_build / load(minimal_build).artifact("raw").path
    cert, key = user_identity(tmp_path)
    folder = tmp_path / "bundle"
    folder.mkdir()
    manifest, parts, session_key = make_bundle(disk, folder, cert, key)
    out = tmp_path / "disk.raw"

    unpack(manifest, session_key, parts.__getitem__, out)

    assert sha256(out) == sha256(disk)
    # Holes stay holes: the bundle holds the data, not the whole disk.
    assert manifest.bundled_size < disk.stat().st_blocks * 512
