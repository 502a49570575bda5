"""Uploading a sparse disk through the EBS direct APIs of a real moto server."""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path

import pytest
from awsloop import BLOCK_SIZE, FaultProxy, clients, owned, read_snapshot, write_sparse_disk

from shipyard.aws import ebs
from shipyard.aws.blocks import candidate_blocks
from shipyard.aws.session import AwsSettings, client, make_session
from shipyard.errors import AWSError

SIZE = 12 * 2**20 + 4096


def upload(url: str, disk: Path, **kwargs: object) -> tuple[str, ebs.UploadStats]:
    settings = AwsSettings(region="us-east-1", endpoint_url=url)
    session = make_session(settings)
    control = client(session, "ebs", settings)
    data = ebs.upload_client(session, settings, concurrency=4)
    snapshot_id = ebs.start_snapshot(control, SIZE, description="test", tags={"k": "v"})
    stats = ebs.put_blocks(data, snapshot_id, disk, concurrency=4, **kwargs)  # type: ignore[arg-type]
    ebs.complete_snapshot(control, snapshot_id, stats)
    return snapshot_id, stats


def test_only_nonzero_blocks_are_sent_and_read_back_exactly(aws: str, tmp_path: Path) -> None:
    disk = tmp_path / "disk.raw"
    data_indices = write_sparse_disk(disk, size=SIZE, data_blocks=9, zero_blocks=5)
    seen: list[int] = []

    snapshot_id, stats = upload(aws, disk, progress=seen.append)

    _, ebs_client = clients(aws)
    content, listed = read_snapshot(ebs_client, snapshot_id, SIZE)
    assert content == disk.read_bytes()
    assert listed == data_indices
    assert stats.blocks_sent == len(data_indices)
    assert stats.blocks_total == -(-SIZE // BLOCK_SIZE)
    # Holes are skipped without reading: only data and written-zero blocks are examined.
    assert stats.blocks_read < stats.blocks_total
    assert sum(seen) == stats.blocks_read * BLOCK_SIZE


def test_checksum_is_the_linear_aggregate_of_block_digests(aws: str, tmp_path: Path) -> None:
    disk = tmp_path / "disk.raw"
    indices = write_sparse_disk(disk, size=SIZE, data_blocks=4, zero_blocks=2)
    raw = disk.read_bytes()
    expected = hashlib.sha256()
    for index in indices:
        block = raw[index * BLOCK_SIZE : (index + 1) * BLOCK_SIZE].ljust(BLOCK_SIZE, b"\0")
        expected.update(hashlib.sha256(block).digest())

    _, stats = upload(aws, disk)

    assert stats.checksum == base64.b64encode(expected.digest()).decode()


def test_snapshot_is_rounded_up_to_whole_gib_and_tagged(aws: str, tmp_path: Path) -> None:
    disk = tmp_path / "disk.raw"
    write_sparse_disk(disk, size=SIZE, data_blocks=2, zero_blocks=0)
    snapshot_id, _ = upload(aws, disk)
    _, snapshots = owned(aws)
    (snap,) = [s for s in snapshots if s["SnapshotId"] == snapshot_id]
    assert snap["VolumeSize"] == 1
    assert {"Key": "k", "Value": "v"} in snap["Tags"]
    assert ebs.volume_size_gib(3 * 2**30 + 1) == 4


def test_a_fully_sparse_file_has_no_candidate_blocks(tmp_path: Path) -> None:
    disk = tmp_path / "empty.raw"
    disk.write_bytes(b"")
    os.truncate(disk, 64 * 2**20)
    fd = os.open(disk, os.O_RDONLY)
    try:
        assert candidate_blocks(fd, 64 * 2**20) == []
    finally:
        os.close(fd)


def test_upload_survives_throttling_503_and_resets(aws: str, tmp_path: Path) -> None:
    disk = tmp_path / "disk.raw"
    write_sparse_disk(disk, size=SIZE, data_blocks=20, zero_blocks=2)
    with FaultProxy(aws, rate=0.2) as proxy:
        snapshot_id, stats = upload(proxy.url, disk)
    assert proxy.faults["throttle"] and proxy.faults["reset"] and proxy.faults["unavailable"]
    assert stats.retries >= sum(proxy.faults.values()) - 4  # StartSnapshot etc. retry in botocore
    _, ebs_client = clients(aws)
    content, _ = read_snapshot(ebs_client, snapshot_id, SIZE)
    assert content == disk.read_bytes()


def test_a_failing_endpoint_fails_the_upload_without_trying_every_block(
    aws: str, tmp_path: Path
) -> None:
    disk = tmp_path / "disk.raw"
    write_sparse_disk(disk, size=SIZE, data_blocks=16, zero_blocks=0)
    settings = AwsSettings(region="us-east-1", endpoint_url=aws)
    session = make_session(settings)
    snapshot_id = ebs.start_snapshot(
        client(session, "ebs", settings), SIZE, description="t", tags={}
    )
    attempts = 3
    with FaultProxy(aws, rate=1.0) as proxy:
        settings_bad = AwsSettings(region="us-east-1", endpoint_url=proxy.url)
        data = client(
            make_session(settings_bad),
            "ebs",
            settings_bad,
            max_attempts=attempts,
            retry_mode="standard",
        )
        with pytest.raises(AWSError, match=r"PutSnapshotBlock of block \d+ failed"):
            ebs.put_blocks(data, snapshot_id, disk, concurrency=2)
    # Once one block has given up, the others stop: at most the blocks in flight
    # (twice the workers) are tried, each at most `attempts` times.
    assert proxy.operations["PutSnapshotBlock"] <= 2 * 2 * attempts < 16 * attempts
