"""Upload a raw disk into an EBS snapshot with the EBS direct APIs.

Only blocks that hold data are read (SEEK_DATA/SEEK_HOLE) and only non-zero ones are
sent; hashing and sending run in a bounded pool of threads (hashlib and sockets
release the GIL), and every worker spends from one shared :class:`RetryBudget`.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shipyard.aws.blocks import BLOCK_SIZE, candidate_blocks, is_zero, read_block
from shipyard.aws.retry import RetryBudget, classify
from shipyard.aws.session import call
from shipyard.errors import AWSError, Interrupted

log = logging.getLogger("shipyard.aws.ebs")

GIB = 1024**3
DEFAULT_CONCURRENCY = 16
ATTEMPTS_PER_BLOCK = 12
# How long AWS keeps an unfinished snapshot before failing it (minutes).
SNAPSHOT_TIMEOUT_MINUTES = 60

Progress = Callable[[int], None]


@dataclass(frozen=True)
class UploadStats:
    """What one upload did."""

    blocks_total: int  # 512 KiB blocks in the disk
    blocks_read: int  # blocks in data extents (read from the file)
    blocks_sent: int  # non-zero blocks sent
    bytes_sent: int
    checksum: str  # base64 SHA-256 over the per-block digests in block order (LINEAR)
    retries: int
    throttled: int
    seconds: float


def volume_size_gib(size: int) -> int:
    """The snapshot's size: the disk size rounded up to whole GiB."""
    return max(1, -(-size // GIB))


def start_snapshot(
    ebs: Any,
    size: int,
    *,
    description: str,
    tags: Mapping[str, str],
    timeout_minutes: int = SNAPSHOT_TIMEOUT_MINUTES,
) -> str:
    """StartSnapshot for a disk of ``size`` bytes; returns the snapshot id."""
    response = call(
        ebs,
        "start_snapshot",
        VolumeSize=volume_size_gib(size),
        Description=description,
        Tags=[{"Key": k, "Value": v} for k, v in tags.items()],
        Timeout=timeout_minutes,
        # Retries of this very call must not start a second snapshot.
        ClientToken=str(uuid.uuid4()),
    )
    return str(response["SnapshotId"])


def complete_snapshot(ebs: Any, snapshot_id: str, stats: UploadStats) -> None:
    """CompleteSnapshot with the changed-block count and the aggregated checksum."""
    call(
        ebs,
        "complete_snapshot",
        SnapshotId=snapshot_id,
        ChangedBlocksCount=stats.blocks_sent,
        Checksum=stats.checksum,
        ChecksumAlgorithm="SHA256",
        ChecksumAggregationMethod="LINEAR",
    )


def aggregate_checksum(digests: Mapping[int, bytes]) -> str:
    """SHA-256 of the per-block SHA-256 digests concatenated in block order, base64."""
    whole = hashlib.sha256()
    for index in sorted(digests):
        whole.update(digests[index])
    return base64.b64encode(whole.digest()).decode()


class _Sender:
    """Reads, hashes and sends one block at a time; shared by the pool's threads."""

    def __init__(self, ebs: Any, snapshot_id: str, fd: int, size: int, budget: RetryBudget) -> None:
        self.ebs = ebs
        self.snapshot_id = snapshot_id
        self.fd = fd
        self.size = size
        self.budget = budget
        self.stop = threading.Event()

    def __call__(self, index: int) -> bytes | None:
        """The block's digest if it was sent, None if it is all zeros."""
        data = read_block(self.fd, index, self.size)
        if is_zero(data):
            return None
        digest = hashlib.sha256(data).digest()
        checksum = base64.b64encode(digest).decode()
        attempt = 0
        while True:
            if self.stop.is_set():
                raise Interrupted("upload stopped")
            self.budget.pause()
            try:
                self.ebs.put_snapshot_block(
                    SnapshotId=self.snapshot_id,
                    BlockIndex=index,
                    BlockData=data,
                    DataLength=len(data),
                    Checksum=checksum,
                    ChecksumAlgorithm="SHA256",
                )
                return digest
            except Exception as exc:
                kind = classify(exc)
                what = f"PutSnapshotBlock of block {index}"
                if kind is None or attempt + 1 >= ATTEMPTS_PER_BLOCK:
                    from shipyard.aws.session import as_aws_error

                    raise as_aws_error(what, exc) from exc
                delay = self.budget.spend(attempt, kind, what, exc)
                log.debug("%s: %s; retrying in %.2f s", what, exc, delay)
                attempt += 1
                if self.stop.wait(delay):
                    raise Interrupted("upload stopped") from exc


def put_blocks(
    ebs: Any,
    snapshot_id: str,
    path: Path,
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
    budget: RetryBudget | None = None,
    progress: Progress | None = None,
    on_start: Callable[[int], None] | None = None,
) -> UploadStats:
    """Send every non-zero block of ``path``; ``progress`` gets bytes examined so far.

    ``on_start`` is told how many bytes will be examined (the data extents' blocks).
    """
    began = time.monotonic()
    fd = os.open(path, os.O_RDONLY)
    try:
        size = os.fstat(fd).st_size
        indices = candidate_blocks(fd, size)
        if on_start:
            on_start(len(indices) * BLOCK_SIZE)
        budget = budget or RetryBudget(100 + len(indices) // 2)
        sender = _Sender(ebs, snapshot_id, fd, size, budget)
        digests = _run_pool(sender, indices, concurrency, progress)
    finally:
        os.close(fd)
    return UploadStats(
        blocks_total=-(-size // BLOCK_SIZE),
        blocks_read=len(indices),
        blocks_sent=len(digests),
        bytes_sent=len(digests) * BLOCK_SIZE,
        checksum=aggregate_checksum(digests),
        retries=budget.used,
        throttled=budget.throttled,
        seconds=time.monotonic() - began,
    )


def _run_pool(
    sender: _Sender, indices: list[int], concurrency: int, progress: Progress | None
) -> dict[int, bytes]:
    """Run ``sender`` over ``indices`` with at most ~2x``concurrency`` blocks in memory."""
    digests: dict[int, bytes] = {}
    pending: dict[Future[bytes | None], int] = {}
    queue = iter(indices)
    window = concurrency * 2
    pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="ebs-put")
    try:
        exhausted = False
        while pending or not exhausted:
            while not exhausted and len(pending) < window:
                index = next(queue, None)
                if index is None:
                    exhausted = True
                    break
                pending[pool.submit(sender, index)] = index
            if not pending:
                break
            done, _ = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
            for future in done:
                index = pending.pop(future)
                digest = future.result()  # raises the worker's error
                if digest is not None:
                    digests[index] = digest
                if progress:
                    progress(BLOCK_SIZE)
    except BaseException:
        # Ctrl-C, SIGTERM or a failed block: stop the others before the caller cleans up.
        sender.stop.set()
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    return digests


def wait_completed(ec2: Any, snapshot_id: str, *, timeout: float = 3600, poll: float = 2) -> None:
    """Wait until the snapshot's state is ``completed``; AWSError if it fails or times out."""
    deadline = time.monotonic() + timeout
    while True:
        response = call(ec2, "describe_snapshots", SnapshotIds=[snapshot_id])
        state = response["Snapshots"][0]["State"] if response["Snapshots"] else "missing"
        if state == "completed":
            return
        if state in ("error", "missing"):
            raise AWSError(f"snapshot {snapshot_id} ended in state {state!r}")
        if time.monotonic() > deadline:
            raise AWSError(f"snapshot {snapshot_id} was not completed after {timeout:g} s")
        time.sleep(poll)
