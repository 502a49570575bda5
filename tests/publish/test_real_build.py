"""Publish a real build and read every block of its snapshot back."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from awsloop import REGION, clients

from shipyard.aws.blocks import BLOCK_SIZE, candidate_blocks, is_zero, read_block
from shipyard.manifest.schema import Ec2Target
from shipyard.publish import ec2
from shipyard.record import load


@pytest.mark.build
def test_real_build_uploads_exactly_its_nonzero_blocks(aws: str, minimal_build: Path) -> None:
    record = load(minimal_build)
    disk = minimal_build / record.artifact("raw").path
    size = disk.stat().st_size

    result = ec2.publish(minimal_build, Ec2Target(to="ec2", region=REGION, endpoint_url=aws))

    _, ebs = clients(aws)
    listed: list[int] = []
    kwargs: dict[str, object] = {"SnapshotId": result.snapshot_id}
    while True:
        page = ebs.list_snapshot_blocks(**kwargs)
        listed += [b["BlockIndex"] for b in page["Blocks"]]
        if not page.get("NextToken"):
            break
        kwargs["NextToken"] = page["NextToken"]
    fd = os.open(disk, os.O_RDONLY)
    try:
        expected = [i for i in candidate_blocks(fd, size) if not is_zero(read_block(fd, i, size))]
        assert sorted(listed) == expected
        for index in expected:
            got = ebs.get_snapshot_block(
                SnapshotId=result.snapshot_id, BlockIndex=index, BlockToken="t"
            )["BlockData"].read()
            assert got == read_block(fd, index, size), f"block {index} differs"
    finally:
        os.close(fd)
    assert result.upload.blocks_sent == len(expected)
    assert result.upload.blocks_total == -(-size // BLOCK_SIZE)
