"""Join storm: N simulated backends register, fetch their profile and report three times.

Runs `shipyard frontend serve` in a subprocess on 127.0.0.1 over SQLite (WAL) and over a
throwaway PostgreSQL cluster, drives it from one asyncio client, and prints a table of
throughput, latency percentiles and errors per database. `postgresql-x2` runs two
`frontend serve` replicas on one PostgreSQL and sends every other backend to each.

    python bench/frontend_load.py [--backends 2000] [--concurrency 25,50,100]
                                  [--db sqlite,postgresql,postgresql-x2]

Concurrency is how many backends are in flight at once. Latency grows with it once the
server is saturated (by Little's law, about concurrency / throughput), so the table has a
row per level rather than one number.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import aiohttp
import httpx

from shipyard.frontend import setup
from shipyard.frontend.core import db
from shipyard.vm.net import free_port

PROFILE = {
    "packages": ["chrony", "nginx"],
    "files": [{"path": "/etc/motd", "content": "{{ host.name }} in rack {{ host.rack }}\n"}],
    "bootstrap": [{"shell": "systemctl enable --now nginx"}],
}
REPORTS = [
    {"state": "installing", "step": "packages"},
    {"state": "installing", "step": "files"},
    {"state": "installed", "message": "profile applied"},
]


@contextmanager
def postgres() -> Iterator[str]:
    """A throwaway PostgreSQL cluster on loopback (initdb runs as `postgres` when root)."""
    initdb = shutil.which("initdb")
    pg_ctl = shutil.which("pg_ctl")
    if not initdb or not pg_ctl:
        raise SystemExit("PostgreSQL binaries (initdb, pg_ctl) are not installed")
    as_pg = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    base = Path(tempfile.mkdtemp(prefix="shipyard-bench-pg-"))
    if as_pg:
        shutil.chown(base, "postgres", "postgres")
    data, port = base / "data", free_port()
    subprocess.run([*as_pg, initdb, "-D", data, "-A", "trust", "-U", "postgres", "--no-sync"],
                   check=True, capture_output=True)  # fmt: skip
    options = f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c max_connections=200"
    subprocess.run([*as_pg, pg_ctl, "-D", data, "-l", base / "log", "-w", "-o", options, "start"],
                   check=True, capture_output=True)  # fmt: skip
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            [*as_pg, pg_ctl, "-D", data, "-m", "fast", "-w", "stop"], capture_output=True
        )
        shutil.rmtree(base, ignore_errors=True)


@contextmanager
def serve(url: str, replicas: int = 1) -> Iterator[tuple[list[str], str, str]]:
    """An initialised frontend in ``replicas`` subprocesses on one database; yields
    (their base URLs, admin token, join token)."""
    engine = db.make_engine(url)
    made = setup.init(engine)
    engine.dispose()
    procs: list[subprocess.Popen[bytes]] = []
    bases: list[str] = []
    try:
        for _ in range(replicas):
            port = free_port()
            argv = [sys.executable, "-m", "shipyard.cli.main", "frontend", "serve", "--db", url,
                    "--listen", f"127.0.0.1:{port}",
                    # One token and one address stand for the whole fleet here.
                    "--join-rate-per-token", "1000000",
                    "--join-rate-per-address", "1000000"]  # fmt: skip
            procs.append(subprocess.Popen(argv, stderr=subprocess.DEVNULL))
            bases.append(f"http://127.0.0.1:{port}")
        for base, proc in zip(bases, procs, strict=True):
            deadline = time.monotonic() + 30
            while True:
                try:
                    httpx.get(f"{base}/healthz", timeout=1).raise_for_status()
                    break
                except httpx.HTTPError:
                    if time.monotonic() > deadline or proc.poll() is not None:
                        raise SystemExit("the frontend did not start") from None
                    time.sleep(0.1)
        headers = {"Authorization": f"Bearer {made['admin_token']}"}
        httpx.put(f"{bases[0]}/api/v1/appliances/backend/profile", json=PROFILE, headers=headers)
        yield bases, made["admin_token"], made["join_token"]
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=30)


async def backend(
    client: aiohttp.ClientSession,
    base: str,
    n: int,
    join_token: str,
    latencies: list[float],
    errors: list[str],
) -> None:
    async def call(method: str, path: str, token: str, body: object = None) -> Any:
        start = time.perf_counter()
        try:
            async with client.request(
                method, base + path, json=body, headers={"Authorization": f"Bearer {token}"}
            ) as r:
                payload = await r.json() if r.status < 400 else None
        except aiohttp.ClientError as exc:
            errors.append(f"{path}: {type(exc).__name__}")
            return None
        latencies.append(time.perf_counter() - start)
        if r.status >= 400:
            errors.append(f"{path}: HTTP {r.status}")
            return None
        return payload

    facts = {"instance_id": f"i-{n:017x}", "availability_zone": f"us-east-1{'abc'[n % 3]}",
             "local_ipv4": f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"}  # fmt: skip
    joined = await call("POST", "/api/v1/join", join_token, facts)
    if joined is None:
        return
    token = joined["host_token"]
    if await call("GET", "/api/v1/self/profile", token) is None:
        return
    for report in REPORTS:
        if await call("POST", "/api/v1/self/status", token, report) is None:
            return


async def storm(
    bases: list[str], join_token: str, backends: int, concurrency: int
) -> dict[str, float]:
    latencies: list[float] = []
    errors: list[str] = []
    gate = asyncio.Semaphore(concurrency)
    connector = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as client:

        async def one(n: int) -> None:
            async with gate:
                # Each backend talks to one replica all along, as behind a sticky balancer.
                base = bases[n % len(bases)]
                await backend(client, base, n, join_token, latencies, errors)

        start = time.perf_counter()
        await asyncio.gather(*(one(n) for n in range(backends)))
        elapsed = time.perf_counter() - start
    latencies.sort()

    def pct(p: float) -> float:
        return (
            latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000 if latencies else 0.0
        )

    if errors:
        print(f"  first errors: {errors[:3]}", file=sys.stderr)
    return {
        "seconds": elapsed,
        "backends/s": backends / elapsed,
        "requests/s": len(latencies) / elapsed,
        "p50 ms": pct(0.50),
        "p99 ms": pct(0.99),
        "errors": float(len(errors)),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", type=int, default=2000)
    parser.add_argument(
        "--concurrency", default="25,50,100", help="backends in flight at once, comma-separated"
    )
    parser.add_argument("--db", default="sqlite,postgresql,postgresql-x2")
    args = parser.parse_args()
    levels = [int(c) for c in args.concurrency.split(",")]
    rows: list[tuple[str, int, dict[str, float]]] = []
    for kind in args.db.split(","):
        if kind not in KINDS:
            parser.error(f"--db: {kind!r} is not one of {', '.join(KINDS)}")
        for level in levels:
            # A fresh database per row: every run starts from the same empty host table.
            with (
                tempfile.TemporaryDirectory() as tmp,
                _sqlite(tmp) if kind == "sqlite" else postgres() as url,
                serve(url, KINDS[kind]) as (bases, _admin, join_token),
            ):
                result = asyncio.run(storm(bases, join_token, args.backends, level))
            rows.append((kind, level, result))
    print(f"\n{args.backends} backends x 5 requests (join, profile, 3 reports), 127.0.0.1")
    header = (
        f"{'database':<15}{'in flight':>10}{'seconds':>9}{'backends/s':>12}{'requests/s':>12}"
        f"{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}"
    )
    print(header)
    print("-" * len(header))
    for kind, level, r in rows:
        print(f"{kind:<15}{level:>10}{r['seconds']:>9.1f}{r['backends/s']:>12.0f}"
              f"{r['requests/s']:>12.0f}{r['p50 ms']:>9.1f}{r['p99 ms']:>9.1f}"
              f"{int(r['errors']):>8}")  # fmt: skip
    return 0


# Database kinds the bench knows, and how many `frontend serve` replicas each runs.
KINDS = {"sqlite": 1, "postgresql": 1, "postgresql-x2": 2}


@contextmanager
def _sqlite(tmp: str) -> Iterator[str]:
    yield f"sqlite:///{tmp}/frontend.db"


if __name__ == "__main__":
    sys.exit(main())
