"""`shipyard publish --backing s3` and `shipyard bundle unbundle` as a user runs them."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from awsloop import CREDENTIALS, REGION, FaultProxy, make_build, owned
from bundleloop import BUCKET


def shipyard(*args: str) -> list[str]:
    return [sys.executable, "-m", "shipyard.cli.main", *args]


def env() -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    return {**keep, **CREDENTIALS}


def publish_argv(build: Path, url: str, identity: tuple[Path, Path], *extra: str) -> list[str]:
    cert, key = identity
    return shipyard(
        *("publish", str(build), "--to", "ec2", "--region", REGION, "--endpoint-url", url),
        *("--backing", "s3", "--bucket", BUCKET, "--prefix", "old/amis"),
        *("--user-cert", str(cert), "--user-key", str(key), "--account-id", "1234-5678-9012"),
        *extra,
    )


def run(argv: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, env=env(), capture_output=True, text=True, timeout=300)


def test_publish_then_unbundle_from_s3_and_from_a_folder(
    aws: str, s3: Any, identity: tuple[Path, Path], tmp_path: Path
) -> None:
    build = make_build(tmp_path, size=40 * 2**20, data_blocks=60)
    published = run(publish_argv(build, aws, identity))
    assert published.returncode == 0, published.stderr
    ami = published.stdout.strip().splitlines()[-1]
    assert ami.startswith("ami-")
    assert "C1, C3, D2, I2, M1, M2, M3, R3, X1" in published.stderr

    manifest = "old/amis/debian-bookworm-test-amd64.manifest.xml"
    disk = build / "disk.raw"
    from_s3 = tmp_path / "from-s3.raw"
    result = run(
        shipyard(
            *("bundle", "unbundle", f"s3://{BUCKET}/{manifest}", "-o", str(from_s3)),
            *("--user-key", str(identity[1]), "--endpoint-url", aws, "--region", REGION),
        )
    )
    assert result.returncode == 0, result.stderr
    assert "2 parts verified" in result.stdout
    assert from_s3.read_bytes() == disk.read_bytes()
    # Written back sparse: holes stay holes (about as much allocated as the build's disk).
    assert (
        from_s3.stat().st_blocks * 512 < disk.stat().st_blocks * 512 + 2**20 < disk.stat().st_size
    )

    folder = tmp_path / "bundle"
    folder.mkdir()
    for obj in s3.list_objects_v2(Bucket=BUCKET, Prefix="old/amis/")["Contents"]:
        data = s3.get_object(Bucket=BUCKET, Key=obj["Key"])["Body"].read()
        (folder / obj["Key"].rpartition("/")[2]).write_bytes(data)
    local = tmp_path / "local.raw"
    ok = run(
        shipyard(
            "bundle", "unbundle", str(folder), "-o", str(local), "--user-key", str(identity[1])
        )
    )
    assert ok.returncode == 0, ok.stderr
    assert (
        hashlib.sha256(local.read_bytes()).hexdigest()
        == hashlib.sha256(disk.read_bytes()).hexdigest()
    )

    part = folder / "debian-bookworm-test-amd64.part.01"
    part.write_bytes(part.read_bytes()[:-1] + b"\0")
    bad = run(
        shipyard(
            "bundle",
            "unbundle",
            str(folder),
            "-o",
            str(tmp_path / "bad.raw"),
            "--user-key",
            str(identity[1]),
        )
    )
    assert bad.returncode == 1
    assert "part debian-bookworm-test-amd64.part.01 does not match its digest" in bad.stderr
    assert "Traceback" not in bad.stderr
    assert not (tmp_path / "bad.raw").exists()


def test_s3_backing_without_a_bucket_is_a_usage_error(aws: str, tmp_path: Path) -> None:
    build = make_build(tmp_path)
    result = run(shipyard("publish", str(build), "--to", "ec2", "--backing", "s3"))
    assert result.returncode == 2
    assert "--backing s3 needs --bucket" in result.stderr


def test_interrupting_the_upload_leaves_no_object_and_no_image(
    aws: str, s3: Any, identity: tuple[Path, Path], tmp_path: Path
) -> None:
    build = make_build(tmp_path, size=96 * 2**20, data_blocks=150)
    with FaultProxy(aws, delay=0.5) as proxy:
        proc = subprocess.Popen(
            publish_argv(build, proxy.url, identity, "--concurrency", "1"),
            env=env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 120
        while proxy.operations["PutObject"] < 3:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the upload did not start"
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert s3.list_objects_v2(Bucket=BUCKET).get("KeyCount", 0) == 0
    assert owned(aws) == ([], [])
