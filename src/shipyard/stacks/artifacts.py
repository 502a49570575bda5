"""Artifacts: folders zipped reproducibly and uploaded under their content's sha256, so an
unchanged folder is not uploaded again; the object key becomes a template parameter."""

from __future__ import annotations

import hashlib
import io
import logging
import zipfile
from pathlib import Path
from typing import Any

from shipyard.aws.session import call, error_code
from shipyard.errors import StackFileError
from shipyard.stacks.model import OutputRef, StackDefinition
from shipyard.stacks.plan import OutputsReader, read_output

log = logging.getLogger("shipyard.stacks")
# Every entry gets this time, so the same files always make the same zip.
_EPOCH = (1980, 1, 1, 0, 0, 0)


def zip_folder(folder: Path) -> bytes:
    """The folder's files as a zip whose bytes depend only on names, modes and contents."""
    if not folder.is_dir():
        raise StackFileError(f"{folder}: no such folder to zip")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            info = zipfile.ZipInfo(path.relative_to(folder).as_posix(), _EPOCH)
            info.external_attr = (path.stat().st_mode & 0o777 | 0o100000) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
    return buffer.getvalue()


def object_key(parameter: str, payload: bytes) -> str:
    return f"artifacts/{parameter}/{hashlib.sha256(payload).hexdigest()}.zip"


def upload_artifacts(definition: StackDefinition, s3: Any, reader: OutputsReader) -> dict[str, str]:
    """Zip and upload each artifact unless its key is already there; parameter → key."""
    spec = definition.spec
    base = definition.path.parent if definition.path else Path.cwd()
    keys: dict[str, str] = {}
    for parameter, artifact in spec.artifacts.items():
        bucket = (
            read_output(artifact.bucket, reader, spec.name)
            if isinstance(artifact.bucket, OutputRef)
            else artifact.bucket
        )
        folder = Path(artifact.folder)
        payload = zip_folder(folder if folder.is_absolute() else base / folder)
        key = object_key(parameter, payload)
        if _exists(s3, bucket, key):
            log.info("s3://%s/%s is already there", bucket, key)
        else:
            log.info("uploading %s to s3://%s/%s", artifact.folder, bucket, key)
            call(
                s3,
                "put_object",
                f"PutObject s3://{bucket}/{key}",
                Bucket=bucket,
                Key=key,
                Body=payload,
            )
        keys[parameter] = key
    return keys


def _exists(s3: Any, bucket: str, key: str) -> bool:
    try:
        s3.head_object(Bucket=bucket, Key=key)
    except Exception as exc:  # botocore's ClientError: 404 means not there yet
        if error_code(exc) in ("404", "NoSuchKey", "NotFound"):
            return False
        raise StackFileError(f"cannot check s3://{bucket}/{key}: {error_code(exc) or exc}") from exc
    return True
