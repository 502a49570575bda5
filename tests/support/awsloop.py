"""Real AWS endpoints on loopback for tests: a moto server, a fault-injecting proxy in
front of it, and synthetic build directories with sparse disks."""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import random
import socket
import struct
import subprocess
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from shipyard import record
from shipyard.aws.blocks import BLOCK_SIZE
from shipyard.aws.local import moto_server_argv
from shipyard.proc import _die_with_parent as die_with_parent
from shipyard.vm.net import free_port

REGION = "us-east-1"
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    "AWS_DEFAULT_REGION": REGION,
}


@contextmanager
def moto_server() -> Iterator[str]:
    """A moto server subprocess on 127.0.0.1; yields its URL and stops it afterwards."""
    port = free_port()
    env = {**os.environ, **CREDENTIALS, "MOTO_EC2_LOAD_DEFAULT_AMIS": "false"}
    proc = subprocess.Popen(
        moto_server_argv(port),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        # A test run killed outright (SIGKILL, a dead terminal) must not leave it running.
        preexec_fn=die_with_parent,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{url}/moto-api/", timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the moto server did not start") from None
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def reset(url: str) -> None:
    """Forget everything the moto server holds."""
    request = urllib.request.Request(f"{url}/moto-api/reset", method="POST", data=b"")
    urllib.request.urlopen(request, timeout=10).close()


_S3_SUBRESOURCES = {
    "location": "GetBucketLocation",
    "ownershipControls": "GetBucketOwnershipControls",
    "list-type": "ListObjectsV2",
}


def s3_operation(method: str, path: str) -> str:
    """The S3 operation of a path-style request."""
    route, _, query = path.partition("?")
    names = {pair.partition("=")[0] for pair in query.split("&") if pair}
    for name, operation in _S3_SUBRESOURCES.items():
        if name in names:
            return operation
    has_key = "/" in route.strip("/")
    if not has_key:
        return {"HEAD": "HeadBucket", "PUT": "CreateBucket", "GET": "ListObjects"}.get(method, "?")
    return {"PUT": "PutObject", "GET": "GetObject", "HEAD": "HeadObject"}.get(
        method, "DeleteObject" if method == "DELETE" else "?"
    )


def operation_of(method: str, path: str, body: bytes) -> str:
    """The API operation of an EC2 (query), EBS (REST) or S3 (REST) request."""
    if method != "POST" and not path.startswith("/snapshots"):
        return s3_operation(method, path)
    if path.startswith("/snapshots"):
        parts = path.split("?")[0].strip("/").split("/")
        if parts[-2:-1] == ["blocks"] or (len(parts) == 4 and parts[2] == "blocks"):
            return "PutSnapshotBlock" if method == "PUT" else "GetSnapshotBlock"
        if len(parts) >= 2 and parts[1] == "completion":
            return "CompleteSnapshot"
        if parts[-1] == "blocks":
            return "ListSnapshotBlocks"
        return "StartSnapshot"
    for pair in body.decode(errors="replace").split("&"):
        key, _, value = pair.partition("=")
        if key == "Action":
            return value
    return "?"


def region_of(authorization: str) -> str:
    """The region a SigV4-signed request is for (its credential scope), or ""."""
    _, _, scope = authorization.partition("Credential=")
    parts = scope.split(",")[0].split("/")
    return parts[2] if len(parts) > 2 else ""


class FaultProxy:
    """A reverse HTTP proxy to ``upstream`` that fails about ``rate`` of the requests:
    throttling (RequestLimitExceeded / ThrottlingException), 503, or a connection reset.
    ``delay`` slows PutSnapshotBlock and PutObject down, as a slow network would;
    operations named in ``refuse`` are denied as an IAM policy without them would; operations in
    ``refuse_after`` succeed that many times, then are denied; ``answer`` maps EC2
    operations the upstream lacks to the XML body EC2 would return for them.
    ``before(operation, region)`` runs as a request comes in and may wait or name a fault;
    ``after(operation, region)`` runs once the upstream has answered, before the answer
    is passed on, and may wait (to keep a call in flight after it took effect)."""

    def __init__(
        self,
        upstream: str,
        *,
        rate: float = 0.0,
        delay: float = 0.0,
        seed: int = 4,
        refuse: frozenset[str] = frozenset(),
        refuse_after: dict[str, int] | None = None,
        answer: dict[str, str] | None = None,
        before: Callable[[str, str], str | None] | None = None,
        after: Callable[[str, str], None] | None = None,
    ):
        self.upstream = upstream.removeprefix("http://")
        self.rate = rate
        self.delay = delay
        self.refuse = refuse
        self.refuse_after = refuse_after or {}
        self.answer = answer or {}
        self.before = before
        self.after = after
        self.random = random.Random(seed)
        self.lock = threading.Lock()
        self.faults: Counter[str] = Counter()
        self.operations: Counter[str] = Counter()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, *args: Any) -> None:
                pass

            def do_any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                proxy.forward(self, body)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_any

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.handle_error = lambda *a: None  # type: ignore[method-assign]
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FaultProxy:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _fault(self) -> str | None:
        with self.lock:
            if self.random.random() >= self.rate:
                return None
            return self.random.choice(("throttle", "unavailable", "reset"))

    def forward(self, handler: BaseHTTPRequestHandler, body: bytes) -> None:
        op = operation_of(handler.command, handler.path, body)
        with self.lock:
            self.operations[op] += 1
            over = op in self.refuse_after and self.operations[op] > self.refuse_after[op]
        region = region_of(handler.headers.get("Authorization", ""))
        fault = self.before(op, region) if self.before else None
        fault = fault or ("denied" if op in self.refuse or over else self._fault())
        if fault:
            with self.lock:
                self.faults[fault] += 1
            self._fail(handler, fault, rest=handler.path.startswith("/snapshots"))
            return
        if op in self.answer:
            data = self.answer[op].encode()
            handler.send_response(200)
            handler.send_header("Content-Type", "text/xml")
            handler.send_header("Content-Length", str(len(data)))
            handler.end_headers()
            handler.wfile.write(data)
            return
        if self.delay and op in ("PutSnapshotBlock", "PutObject"):
            time.sleep(self.delay)
        conn = http.client.HTTPConnection(self.upstream, timeout=60)
        headers = {k: v for k, v in handler.headers.items() if k.lower() != "connection"}
        conn.request(handler.command, handler.path, body=body, headers=headers)
        response = conn.getresponse()
        data = response.read()
        conn.close()
        if self.after:
            self.after(op, region)
        handler.send_response(response.status)
        for key, value in response.getheaders():
            if key.lower() not in ("connection", "transfer-encoding", "content-length"):
                handler.send_header(key, value)
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    @staticmethod
    def _fail(handler: BaseHTTPRequestHandler, fault: str, *, rest: bool) -> None:
        if fault == "reset":
            # RST instead of an answer: what a dropped connection looks like to the client.
            handler.connection.setsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
            )
            handler.connection.close()
            handler.close_connection = True
            return
        if rest:
            status = 429 if fault == "throttle" else 503
            code = "ThrottlingException" if fault == "throttle" else "ServiceUnavailableException"
            data = json.dumps({"message": "injected fault"}).encode()
            headers = {"Content-Type": "application/json", "x-amzn-ErrorType": code}
        else:
            status = 403 if fault == "denied" else 503
            code = {"throttle": "RequestLimitExceeded", "denied": "UnauthorizedOperation"}.get(
                fault, "Unavailable"
            )
            data = (
                f"<Response><Errors><Error><Code>{code}</Code><Message>injected fault"
                "</Message></Error></Errors><RequestID>x</RequestID></Response>"
            ).encode()
            headers = {"Content-Type": "text/xml"}
        handler.send_response(status)
        for key, value in headers.items():
            handler.send_header(key, value)
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)


class Recorder:
    """Every API call a publish makes, with its parameters (botocore client events)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, dict[str, Any]]] = []

    def __call__(self, params: dict[str, Any], model: Any, **kwargs: Any) -> None:
        self.calls.append((model.service_model.signing_name, model.name, dict(params)))

    @property
    def hooks(self) -> list[tuple[str, Callable[..., Any]]]:
        return [("provide-client-params", self)]

    def iam(self) -> set[str]:
        """The IAM actions the recorded calls need."""
        from shipyard.aws.iam import iam_actions

        return {a for service, name, p in self.calls for a in iam_actions(service, name, p)}

    def operations(self) -> set[str]:
        return {f"{service}:{name}" for service, name, _ in self.calls}

    def params(self, name: str) -> list[dict[str, Any]]:
        return [p for _, n, p in self.calls if n == name]


def write_sparse_disk(path: Path, *, size: int, data_blocks: int, zero_blocks: int, seed: int = 7):
    """A sparse disk: random data in some blocks, written zeros in others, holes elsewhere.
    The data blocks include the last one, which may be partial. Returns the data indices."""
    rng = random.Random(seed)
    total = -(-size // BLOCK_SIZE)
    chosen = rng.sample(range(total - 1), data_blocks + zero_blocks)
    data_indices = sorted([*chosen[:data_blocks], total - 1])
    with open(path, "wb") as fh:
        fh.truncate(size)
        for index in data_indices:
            fh.seek(index * BLOCK_SIZE)
            length = min(BLOCK_SIZE, size - index * BLOCK_SIZE)
            # Half a block of data, then zeros: the block still has to be sent.
            chunk = rng.randbytes(length // 2) + bytes(length - length // 2)
            fh.write(chunk)
        for index in chosen[data_blocks:]:
            fh.seek(index * BLOCK_SIZE)
            fh.write(bytes(BLOCK_SIZE))
    return data_indices


def make_build(
    parent: Path,
    *,
    build_id: str = "20261122-000000-abcd",
    size: int = 12 * 2**20 + 4096,
    data_blocks: int = 9,
    zero_blocks: int = 5,
    boot_modes: tuple[str, ...] = ("uefi", "bios"),
    architecture: str = "amd64",
    name: str = "debian-bookworm-test-amd64",
) -> Path:
    """A build directory with a synthetic sparse disk.raw and its build.json."""
    build_dir = parent / build_id
    build_dir.mkdir(parents=True)
    disk = build_dir / "disk.raw"
    write_sparse_disk(disk, size=size, data_blocks=data_blocks, zero_blocks=zero_blocks)
    sha = hashlib.sha256(disk.read_bytes()).hexdigest()
    rec = record.BuildRecord.model_validate(
        {
            "id": build_id,
            "name": name,
            "status": "complete",
            "created": "2026-11-22T00:00:00Z",
            "manifest_path": "test.yml",
            "manifest_sha256": "0" * 64,
            "manifest": {"name": name, "description": "a test image"},
            "release": "bookworm",
            "architecture": architecture,
            "flavour": "test",
            "agent": "none",
            "boot_modes": list(boot_modes),
            "disk_size": size,
            "formats": {
                "raw": {
                    "format": "raw",
                    "path": "disk.raw",
                    "size": size,
                    "allocated": os.stat(disk).st_blocks * 512,
                    "virtual_size": size,
                    "sha256": sha,
                }
            },
        }
    )
    record.write(build_dir, rec)
    return build_dir


def read_snapshot(ebs: Any, snapshot_id: str, size: int) -> tuple[bytes, list[int]]:
    """The snapshot's content over ``size`` bytes (zeros where no block) and its block list."""
    listed: list[int] = []
    kwargs: dict[str, Any] = {"SnapshotId": snapshot_id}
    while True:
        page = ebs.list_snapshot_blocks(**kwargs)
        listed += [b["BlockIndex"] for b in page["Blocks"]]
        if not page.get("NextToken"):
            break
        kwargs["NextToken"] = page["NextToken"]
    content = bytearray(-(-size // BLOCK_SIZE) * BLOCK_SIZE)
    for index in listed:
        block = ebs.get_snapshot_block(SnapshotId=snapshot_id, BlockIndex=index, BlockToken="t")
        data = block["BlockData"].read()
        content[index * BLOCK_SIZE : index * BLOCK_SIZE + len(data)] = data
    return bytes(content[:size]), sorted(listed)


# Fixtures, imported by the conftest of every test folder that talks to AWS.


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    """One moto server for the session."""
    with moto_server() as url:
        yield url


@pytest.fixture
def aws(moto_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """An empty moto server and test credentials in the environment; yields its URL."""
    reset(moto_url)
    for key in ("AWS_PROFILE", "AWS_REGION", "AWS_ACCESS_KEY", "AWS_SECRET_KEY"):
        monkeypatch.delenv(key, raising=False)
    for key, value in CREDENTIALS.items():
        monkeypatch.setenv(key, value)
    return moto_url


def clients(url: str, region: str = REGION) -> tuple[Any, Any]:
    """(ec2, ebs) clients for ``region`` of the endpoint at ``url``."""
    import boto3

    session = boto3.Session(region_name=region)
    return session.client("ec2", endpoint_url=url), session.client("ebs", endpoint_url=url)


def owned(url: str, region: str = REGION) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(images, snapshots) owned by the account in ``region``."""
    ec2, _ = clients(url, region)
    images = ec2.describe_images(Owners=["self"])["Images"]
    snapshots = ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"]
    return images, snapshots
