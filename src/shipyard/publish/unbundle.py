"""Turn an EC2 bundle (in S3 or a local folder) back into a disk image, checking it all:
the manifest's signature, every part's SHA-1 and the image's SHA-1."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from shipyard.aws import bundle_upload
from shipyard.aws.bundle_format import PART_SIZE, SessionKey, load_private_key
from shipyard.aws.bundle_manifest import MAX_MANIFEST, parse, verify
from shipyard.aws.bundle_unpack import PartReader, unpack
from shipyard.aws.session import AwsSettings, client, make_session
from shipyard.errors import PublishError


@dataclass(frozen=True)
class UnbundleResult:
    """What was unbundled, and where to."""

    name: str
    output: str
    size: int
    parts: int
    digest: str


def _local(source: Path) -> tuple[bytes, str, PartReader]:
    """The manifest and a part reader for a manifest file or a folder holding one."""
    if source.is_dir():
        found = sorted(source.glob("*.manifest.xml"))
        if len(found) != 1:
            raise PublishError(f"{source}: expected one *.manifest.xml, found {len(found)}")
        source = found[0]
    folder = source.parent
    try:
        with source.open("rb") as fh:
            data = fh.read(MAX_MANIFEST + 1)
    except OSError as exc:
        raise PublishError(f"{source}: cannot read the bundle manifest: {exc.strerror}") from None

    def read_part(filename: str) -> bytes:
        path = folder / filename
        try:
            with path.open("rb") as fh:
                return fh.read(PART_SIZE + 1)
        except OSError as exc:
            raise PublishError(f"{path}: cannot read the bundle part: {exc.strerror}") from None

    return data, str(source), read_part


def _s3(url: str, settings: AwsSettings) -> tuple[bytes, str, PartReader]:
    """The manifest and a part reader for ``s3://bucket/key.manifest.xml``."""
    bucket, _, key = url.removeprefix("s3://").partition("/")
    if not bucket or not key:
        raise PublishError(f"{url}: expected s3://BUCKET/KEY of a bundle manifest")
    s3 = client(make_session(settings), "s3", settings)
    folder = key.rpartition("/")[0]
    prefix = f"{folder}/" if folder else ""
    data = bundle_upload.get_object(s3, bucket, key, MAX_MANIFEST)

    def read_part(filename: str) -> bytes:
        return bundle_upload.get_object(s3, bucket, prefix + filename, PART_SIZE)

    return data, url, read_part


def unbundle(
    source: str, output: Path, user_key: Path, settings: AwsSettings | None = None
) -> UnbundleResult:
    """Check the bundle at ``source`` and write its image to ``output`` (sparse)."""
    if output.exists():
        raise PublishError(f"{output} already exists; give another output path")
    if not output.parent.is_dir():
        raise PublishError(f"{output.parent}: no such directory for the output")
    key = load_private_key(user_key)
    if source.startswith("s3://"):
        data, where, read_part = _s3(source, settings or AwsSettings())
    else:
        data, where, read_part = _local(Path(source))
    manifest = parse(data, where)
    verify(manifest, key.public_key(), where)
    session_key = SessionKey.decrypt_with(
        key, manifest.user_encrypted_key, manifest.user_encrypted_iv
    )
    size = unpack(manifest, session_key, read_part, output)
    return UnbundleResult(manifest.name, str(output), size, len(manifest.parts), manifest.digest)
