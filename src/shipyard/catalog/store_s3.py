"""A catalog store in an S3 bucket (``s3://bucket/prefix``); any S3 endpoint works."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from shipyard.aws.session import translated
from shipyard.catalog.store import CHUNK
from shipyard.errors import (
    AWSConflict,
    AWSError,
    AWSNotFound,
    CatalogConflict,
    CatalogError,
    CatalogNotFound,
)


class _NoSuchObject(CatalogNotFound):
    """A key the bucket does not hold (the bucket itself is there)."""


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
        self._bucket_seen = False  # once it answered, a 404 is about a key

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def _call(self, what: str, key: str, fn: Any, **kwargs: Any) -> Any:
        with self._translated(what, key):
            result = fn(Bucket=self.bucket, **kwargs)
        self._bucket_seen = True
        return result

    @contextmanager
    def _translated(self, what: str, key: str) -> Iterator[None]:
        """AWS's errors in the block as the catalog's, naming the store and the key."""
        try:
            with translated(f"{what} {key}"):
                yield
        except AWSNotFound as exc:
            # A HEAD answers a bare 404 for a missing bucket as for a missing key.
            if exc.code == "NoSuchBucket" or (
                exc.code in ("404", "NotFound") and self._bucket_missing()
            ):
                raise CatalogNotFound(
                    f"{self.url}: the bucket {self.bucket} does not exist"
                ) from None
            raise _NoSuchObject(f"{self.url}: {key} does not exist") from None
        except AWSConflict:
            raise CatalogConflict(f"{self.url}: {key} exists already") from None
        except AWSError as exc:
            raise CatalogError(f"{self.url}: {exc}", hint=exc.hint) from exc

    def _bucket_missing(self) -> bool:
        """Whether the bucket is gone (asked once, until a call has found it there)."""
        if self._bucket_seen:
            return False
        try:
            with translated(f"inspect the bucket {self.bucket}"):
                self.client.head_bucket(Bucket=self.bucket)
        except AWSNotFound:
            return True
        except AWSError:
            return False
        self._bucket_seen = True
        return False

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
        except CatalogConflict:
            return False
        return True

    def put_file(
        self, key: str, source: Path, on_bytes: Callable[[int], object] | None = None
    ) -> None:
        from boto3.s3.transfer import TransferConfig

        config = TransferConfig(multipart_chunksize=64 * 1024 * 1024)
        self._call(
            "write",
            key,
            lambda Bucket: self.client.upload_file(
                str(source), Bucket, self._key(key), Config=config, Callback=on_bytes
            ),
        )

    def exists(self, key: str) -> bool:
        return self.size(key) is not None

    def size(self, key: str) -> int | None:
        try:
            resp = self._call("inspect", key, self.client.head_object, Key=self._key(key))
        except _NoSuchObject:
            return None
        return int(resp["ContentLength"])

    def delete(self, key: str) -> None:
        self._call("delete", key, self.client.delete_object, Key=self._key(key))

    def list(self, prefix: str) -> dict[str, str]:
        full = self._key(prefix)
        strip = len(self.prefix) + 1 if self.prefix else 0
        found: dict[str, str] = {}
        paginator = self.client.get_paginator("list_objects_v2")
        pages = paginator.paginate(Bucket=self.bucket, Prefix=full)  # lazy: errors come below
        with self._translated("list", prefix or "/"):
            for page in pages:
                for obj in page.get("Contents", []):
                    found[obj["Key"][strip:]] = obj["ETag"].strip('"')
        return found


def open_store(url: str, *, endpoint_url: str | None = None) -> S3Store:
    rest = url.removeprefix("s3://")
    bucket, _, prefix = rest.partition("/")
    if not bucket:
        raise CatalogError(f"{url!r} names no bucket (expected s3://bucket/prefix)")
    return S3Store(bucket, prefix, s3_client(endpoint_url))
