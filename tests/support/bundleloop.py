"""What EC2 bundle tests need: a user's certificate and key, a disk with a real filesystem."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from awsloop import REGION

BUCKET = "amis"


def user_identity(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate and its key, as `openssl req` makes them for EC2."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=test"),
            *("-days", "2", "-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return cert, key


def filesystem_disk(path: Path, size_mib: int = 96) -> None:
    """A sparse disk holding a real ext4 filesystem with files of random and repeated data."""
    tree = path.parent / "tree"
    (tree / "etc").mkdir(parents=True)
    (tree / "etc" / "hostname").write_text("bundle-test\n")
    (tree / "random.bin").write_bytes(os.urandom(13 * 2**20 + 123))
    (tree / "text.txt").write_text("line of text\n" * 200_000)
    with open(path, "wb") as fh:
        fh.truncate(size_mib * 2**20)
    subprocess.run(
        ["mkfs.ext4", "-q", "-F", "-d", str(tree), str(path)],
        check=True,
        capture_output=True,
        timeout=120,
    )


# Fixtures, imported by the test modules that publish bundles.


@pytest.fixture(scope="module")
def identity(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The user's certificate and private key."""
    return user_identity(tmp_path_factory.mktemp("identity"))


@pytest.fixture
def s3(aws: str) -> Any:
    """An S3 client of the moto server, with bucket ``BUCKET`` (ACLs on) made."""
    import boto3

    client = boto3.client("s3", endpoint_url=aws, region_name=REGION)
    client.create_bucket(Bucket=BUCKET, ObjectOwnership="ObjectWriter")
    return client
