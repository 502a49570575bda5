"""A catalog store in an S3 bucket (``s3://bucket/prefix``); any S3 endpoint works."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from shipyard.catalog.store import CHUNK
from shipyard.errors import CatalogError


def s3_client(endpoint_url: str | None = None) -> Any:
    """An S3 client through Shipyard's AWS session factory (S3 needs no region: us-east-1)."""
    from shipyard.aws.session import AwsSettings, client, make_session

    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    settings = AwsSettings(region=region, endpoint_url=endpoint_url)
    return client(make_session(settings), "s3", settings)


class S3Store:
    """Objects under ``prefix`` in ``bucket``; a single PUT is atomic in S3."""

    def __init__(self, bucket: str, prefix: str, client: Any) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.client = client
        self.url = f"s3://{bucket}/{self.prefix}" if self.prefix else f"s3://{bucket}"

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def _call(self, what: str, key: str, fn: Any, **kwargs: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return fn(Bucket=self.bucket, **kwargs)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in ("NoSuchKey", "404", "NotFound"):
                raise CatalogError(f"{self.url}: {key} does not exist") from None
            if code == "NoSuchBucket":
                raise CatalogError(f"{self.url}: the bucket {self.bucket} does not exist") from None
            raise CatalogError(f"{self.url}: cannot {what} {key}: {code}: {exc}") from exc
        except BotoCoreError as exc:
            raise CatalogError(f"{self.url}: cannot {what} {key}: {exc}") from exc

    def get(self, key: str) -> bytes:
        resp = self._call("read", key, self.client.get_object, Key=self._key(key))
        data: bytes = resp["Body"].read()
        return data

    def get_range(self, key: str, start: int, end: int) -> Iterator[bytes]:
        resp = self._call(
            "read", key, self.client.get_object, Key=self._key(key), Range=f"bytes={start}-{end}"
        )
        body = resp["Body"]

        def chunks() -> Iterator[bytes]:
            try:
                yield from body.iter_chunks(CHUNK)
            finally:
                body.close()

        return chunks()

    def put(self, key: str, data: bytes) -> None:
        self._call("write", key, self.client.put_object, Key=self._key(key), Body=data)

    def put_new(self, key: str, data: bytes) -> bool:
        try:
            self._call(
                "write", key, self.client.put_object, Key=self._key(key), Body=data, IfNoneMatch="*"
            )
        except CatalogError as exc:
            if "PreconditionFailed" in str(exc) or "ConditionalRequestConflict" in str(exc):
                return False
            raise
        return True

    def put_file(self, key: str, source: Path) -> None:
        from boto3.s3.transfer import TransferConfig

        config = TransferConfig(multipart_chunksize=64 * 1024 * 1024)
        self._call(
            "write",
            key,
            lambda Bucket: self.client.upload_file(
                str(source), Bucket, self._key(key), Config=config
            ),
        )

    def exists(self, key: str) -> bool:
        return self.size(key) is not None

    def size(self, key: str) -> int | None:
        try:
            resp = self._call("inspect", key, self.client.head_object, Key=self._key(key))
        except CatalogError as exc:
            if "does not exist" in str(exc):
                return None
            raise
        return int(resp["ContentLength"])

    def delete(self, key: str) -> None:
        self._call("delete", key, self.client.delete_object, Key=self._key(key))

    def list(self, prefix: str) -> dict[str, str]:
        full = self._key(prefix)
        strip = len(self.prefix) + 1 if self.prefix else 0
        found: dict[str, str] = {}
        paginator = self.client.get_paginator("list_objects_v2")
        pages = self._call("list", prefix or "/", paginator.paginate, Prefix=full)
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            for page in pages:
                for obj in page.get("Contents", []):
                    found[obj["Key"][strip:]] = obj["ETag"].strip('"')
        except (ClientError, BotoCoreError) as exc:
            raise CatalogError(f"{self.url}: cannot list {prefix or '/'}: {exc}") from exc
        return found


def open_store(url: str, *, endpoint_url: str | None = None) -> S3Store:
    rest = url.removeprefix("s3://")
    bucket, _, prefix = rest.partition("/")
    if not bucket:
        raise CatalogError(f"{url!r} names no bucket (expected s3://bucket/prefix)")
    return S3Store(bucket, prefix, s3_client(endpoint_url))
