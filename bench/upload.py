"""Upload benchmark: a disk image through the EBS direct APIs to a minimal local endpoint
(accepts every call as fast as loopback allows) and to a moto server.

    python bench/upload.py [BUILD_DIR] [--concurrency 8 16 32] [--faults 0.05 0.2]

Without BUILD_DIR a synthetic 2 GiB sparse image of realistic density (about 330 MiB
of data, some written zero blocks, holes elsewhere) is made in a temporary directory.
Prints MB/s of non-zero data, blocks sent vs blocks in the disk, and CPU seconds.
With --faults, the same upload also goes through the tests' fault-injecting proxy
(throttling, 503, connection resets at the given rates) once with botocore's standard
retry mode (what publish uses) and once with its adaptive mode.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import re
import socket
import sys
import tempfile
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

BLOCK = 512 * 1024
GIB = 1024**3


def synthetic_image(path: Path, *, size: int = 2 * GIB, seed: int = 1) -> None:
    """A sparse image like a fresh minimal root: dense at the start, sparse later."""
    rng = random.Random(seed)
    with open(path, "wb") as fh:
        fh.truncate(size)
        for index in range(size // BLOCK):
            density = 0.55 if index < 1200 else 0.003
            roll = rng.random()
            if roll < density:
                fh.seek(index * BLOCK)
                fh.write(os.urandom(BLOCK // 2) + bytes(BLOCK // 2))
            elif roll < density + 0.05:
                fh.seek(index * BLOCK)
                fh.write(bytes(BLOCK))


class _Ebs(BaseHTTPRequestHandler):
    """Just enough of the EBS direct APIs: StartSnapshot, PutSnapshotBlock, CompleteSnapshot."""

    protocol_version = "HTTP/1.1"
    # Headers and body go out as separate writes: without this, Nagle + delayed ACK
    # add ~40 ms to every response.
    disable_nagle_algorithm = True
    counter = 0

    def log_message(self, *args: object) -> None:
        pass

    def _reply(self, status: int, doc: dict[str, object], headers: dict[str, str] = {}) -> None:  # noqa: B006
        data = json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def do_PUT(self) -> None:  # PutSnapshotBlock
        self._body()
        checksum = self.headers.get("x-amz-Checksum", "")
        self._reply(201, {}, {"x-amz-Checksum": checksum, "x-amz-Checksum-Algorithm": "SHA256"})

    def do_POST(self) -> None:
        body = self._body()
        if self.path.startswith("/snapshots/completion/"):
            self._reply(202, {"Status": "completed"})
            return
        size = json.loads(body or b"{}").get("VolumeSize", 1)
        _Ebs.counter += 1
        self._reply(
            201,
            {
                "SnapshotId": f"snap-{_Ebs.counter:017x}",
                "Status": "pending",
                "VolumeSize": size,
                "BlockSize": BLOCK,
            },
        )


def _serve(sock: socket.socket) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Ebs, bind_and_activate=False)
    server.socket.close()
    server.socket = sock
    server.daemon_threads = True
    server.serve_forever()


def minimal_endpoint() -> tuple[str, multiprocessing.Process]:
    """The minimal endpoint in its own process (its own GIL), listening on loopback."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    proc = multiprocessing.Process(target=_serve, args=(sock,), daemon=True)
    proc.start()
    return f"http://127.0.0.1:{sock.getsockname()[1]}", proc


def run_upload(
    url: str, disk: Path, concurrency: int, retries: str = "standard"
) -> dict[str, float]:
    """One upload; ``retries`` is the data client's botocore retry mode."""
    from shipyard.aws import ebs
    from shipyard.aws.session import AwsSettings, client, make_session

    settings = AwsSettings(region="us-east-1", endpoint_url=url, access_key="a", secret_key="b")
    session = make_session(settings)
    control = client(session, "ebs", settings)
    if retries == "standard":
        data = ebs.upload_client(session, settings, concurrency=concurrency)
    else:
        data = client(
            session,
            "ebs",
            settings,
            max_attempts=ebs.ATTEMPTS_PER_BLOCK,
            retry_mode="adaptive",
            pool=concurrency + 4,
        )
    size = disk.stat().st_size
    cpu0, wall0 = time.process_time(), time.perf_counter()
    snapshot_id = ebs.start_snapshot(control, size, description="bench", tags={})
    stats = ebs.put_blocks(data, snapshot_id, disk, concurrency=concurrency)
    ebs.complete_snapshot(control, snapshot_id, stats)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    nonzero = stats.blocks_sent * BLOCK
    return {
        "seconds": wall,
        "mbps": nonzero / 1e6 / wall,
        "sent": stats.blocks_sent,
        "read": stats.blocks_read,
        "total": stats.blocks_total,
        "cpu": cpu,
        "retries": stats.retries,
        "throttled": stats.throttled,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("build", nargs="?", help="a build directory (default: synthetic image)")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[8, 16, 32])
    parser.add_argument("--no-moto", action="store_true", help="skip the moto server")
    parser.add_argument(
        "--faults",
        type=float,
        nargs="*",
        default=[],
        metavar="RATE",
        help="also upload through the fault-injecting proxy at these fault rates",
    )
    args = parser.parse_args()

    from rich.console import Console
    from rich.table import Table

    os.environ.setdefault("AWS_CONFIG_FILE", os.devnull)
    os.environ.setdefault("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    with tempfile.TemporaryDirectory(prefix="shipyard-bench-") as tmp:
        if args.build:
            from shipyard.record import load

            record = load(args.build)
            disk = Path(args.build) / record.artifact("raw").path
            label = f"build {record.id}"
        else:
            disk = Path(tmp) / "disk.raw"
            synthetic_image(disk)
            label = "synthetic 2 GiB"
        allocated = os.stat(disk).st_blocks * 512
        endpoints: list[tuple[str, str, list[int], str, float]] = []
        url, server = minimal_endpoint()
        for level in args.concurrency:
            endpoints.append(("minimal endpoint", url, [level], "standard", 0.0))
        for rate in args.faults:
            for retries in ("standard", "adaptive"):
                endpoints.append(("faulty proxy", url, [16], retries, rate))
        moto = None
        if not args.no_moto:
            moto, moto_url = _moto()
            endpoints.append(
                ("moto server", moto_url, [max(args.concurrency[:1] or [8])], "standard", 0.0)
            )
        table = Table(
            title=f"EBS upload of {disk.name} ({label}, {allocated / 2**20:.0f} MiB "
            f"allocated) on {os.cpu_count()} CPUs"
        )
        for column in (
            "endpoint",
            "faults",
            "retries by",
            "workers",
            "MB/s non-zero",
            "sent / read / total blocks",
            "seconds",
            "CPU s",
            "retries",
            "throttled",
        ):
            table.add_column(column, justify="left" if column == "endpoint" else "right")
        try:
            for name, endpoint, levels, retries, rate in endpoints:
                for level in levels:
                    r = _through_proxy(endpoint, disk, level, retries, rate)
                    table.add_row(
                        name,
                        f"{rate:.0%}" if rate else "-",
                        retries,
                        str(level),
                        f"{r['mbps']:.0f}",
                        f"{r['sent']:.0f} / {r['read']:.0f} / {r['total']:.0f}",
                        f"{r['seconds']:.2f}",
                        f"{r['cpu']:.2f}",
                        f"{r['retries']:.0f}",
                        f"{r['throttled']:.0f}",
                    )
        finally:
            server.terminate()
            if moto is not None:
                moto.terminate()
                moto.wait(timeout=10)
        Console().print(table)
    return 0


def _through_proxy(
    url: str, disk: Path, concurrency: int, retries: str, rate: float
) -> dict[str, float]:
    if not rate:
        return run_upload(url, disk, concurrency, retries)
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "support"))
    from awsloop import FaultProxy

    with FaultProxy(url, rate=rate) as proxy:
        return run_upload(proxy.url, disk, concurrency, retries)


def _moto() -> tuple[object, str]:
    import subprocess
    import urllib.request

    from shipyard.aws.local import moto_server_argv

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "MOTO_EC2_LOAD_DEFAULT_AMIS": "false"}
    proc = subprocess.Popen(
        moto_server_argv(port), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            urllib.request.urlopen(f"{url}/moto-api/", timeout=1).close()
            return proc, url
        except OSError:
            time.sleep(0.1)
    proc.terminate()
    raise SystemExit("the moto server did not start")


if __name__ == "__main__":
    assert re.match(r"3\.(1[1-9])", sys.version.split()[0]), "Python 3.11+ is needed"
    sys.exit(main())
