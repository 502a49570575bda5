"""Upload a raw disk into an EBS snapshot with the EBS direct APIs.

Only blocks that hold data are read (SEEK_DATA/SEEK_HOLE) and only non-zero ones are
sent; hashing and sending run in a bounded pool of threads (hashlib and sockets
release the GIL), all through one client whose retry quota they share.
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
from shipyard.aws.session import AwsSettings, as_aws_error, call, client
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


def upload_client(session: Any, settings: AwsSettings, *, concurrency: int) -> Any:
    """The client every upload worker sends its blocks through, retrying by itself.

    botocore's ``standard`` retry mode: one client is shared by all the workers, so its
    retry quota is theirs together and a failing endpoint fails the upload instead of
    being retried forever. Measured behind a proxy injecting throttling, 503s and resets
    (bench/upload.py), it uploads as fast as a hand-made shared budget did, while the
    ``adaptive`` mode is 7 to 15 times slower: its send-rate limiter shrinks the rate at
    every throttled answer, even when throttling is rare and random.
    """
    return client(
        session,
        "ebs",
        settings,
        max_attempts=ATTEMPTS_PER_BLOCK,
        retry_mode="standard",
        pool=concurrency + 4,
    )


class _RetryWatch:
    """Counts the client's failed attempts, and stops its retries once the upload stops."""

    def __init__(self, ebs: Any) -> None:
        from botocore.retries.standard import RetryEventAdapter, ThrottlingErrorDetector

        self._events = ebs.meta.events
        self._throttling = ThrottlingErrorDetector(RetryEventAdapter())
        self._lock = threading.Lock()
        self.stop = threading.Event()
        self.failed = 0  # attempts that failed: retried, or the last of their block
        self.throttled = 0
        self._hooks = (
            ("before-send.ebs.PutSnapshotBlock", self._before_send),
            ("needs-retry.ebs.PutSnapshotBlock", self._after_attempt),
        )
        for event, hook in self._hooks:
            self._events.register(event, hook)

    def close(self) -> None:
        for event, hook in self._hooks:
            self._events.unregister(event, hook)

    def _before_send(self, **kwargs: Any) -> None:
        if self.stop.is_set():
            raise Interrupted("upload stopped")

    def _after_attempt(
        self, response: Any = None, caught_exception: Any = None, **kwargs: Any
    ) -> None:
        if caught_exception is None and response is not None and response[0].status_code < 300:
            return
        with self._lock:
            self.failed += 1
            if self._throttling.is_throttling_error(
                response=response, caught_exception=caught_exception, **kwargs
            ):
                self.throttled += 1
        # Not one more wait once the upload has failed or been interrupted.
        self._before_send()


class _Sender:
    """Reads, hashes and sends one block at a time; shared by the pool's threads."""

    def __init__(self, ebs: Any, snapshot_id: str, fd: int, size: int, watch: _RetryWatch):
        self.ebs = ebs
        self.snapshot_id = snapshot_id
        self.fd = fd
        self.size = size
        self.stop = watch.stop

    def __call__(self, index: int) -> bytes | None:
        """The block's digest if it was sent, None if it is all zeros."""
        data = read_block(self.fd, index, self.size)
        if is_zero(data):
            return None
        digest = hashlib.sha256(data).digest()
        if self.stop.is_set():
            raise Interrupted("upload stopped")
        try:
            self.ebs.put_snapshot_block(
                SnapshotId=self.snapshot_id,
                BlockIndex=index,
                BlockData=data,
                DataLength=len(data),
                Checksum=base64.b64encode(digest).decode(),
                ChecksumAlgorithm="SHA256",
            )
        except Interrupted:
            raise
        except Exception as exc:  # botocore, urllib3 and socket errors share no base class
            raise as_aws_error(f"PutSnapshotBlock of block {index}", exc) from exc
        return digest


def put_blocks(
    ebs: Any,
    snapshot_id: str,
    path: Path,
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
    progress: Progress | None = None,
    on_start: Callable[[int], None] | None = None,
) -> UploadStats:
    """Send every non-zero block of ``path`` through ``ebs`` (see :func:`upload_client`).

    ``progress`` gets bytes examined so far; ``on_start`` is told how many bytes will be
    examined (the data extents' blocks).
    """
    began = time.monotonic()
    fd = os.open(path, os.O_RDONLY)
    watch = _RetryWatch(ebs)
    try:
        size = os.fstat(fd).st_size
        indices = candidate_blocks(fd, size)
        if on_start:
            on_start(len(indices) * BLOCK_SIZE)
        sender = _Sender(ebs, snapshot_id, fd, size, watch)
        digests = _run_pool(sender, indices, concurrency, progress)
    finally:
        watch.close()
        os.close(fd)
    return UploadStats(
        blocks_total=-(-size // BLOCK_SIZE),
        blocks_read=len(indices),
        blocks_sent=len(digests),
        bytes_sent=len(digests) * BLOCK_SIZE,
        checksum=aggregate_checksum(digests),
        retries=watch.failed,
        throttled=watch.throttled,
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
