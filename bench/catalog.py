"""Catalog benchmark: 10,000 versions across 50 products.

Measures index regeneration (cold, and warm with the record cache) and resolve
latency over HTTP on loopback against `shipyard catalog serve`, and prints a table.
Usage: python bench/catalog.py [--products 50] [--versions 200] [--requests 2000]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import httpx

from shipyard.catalog import index, records, resolve, sign
from shipyard.catalog.records import Ami, Download, VersionRecord
from shipyard.catalog.store import open_store
from shipyard.vm.net import free_port

FLAVOURS = ["minimal", "web", "db", "ci", "gpu"]
RELEASES = ["bookworm", "trixie", "bullseye", "sid", "forky"]
ARCHES = ["amd64", "arm64"]
REGIONS = ["us-east-1", "eu-west-1", "ap-south-1"]


def products(n: int) -> list[tuple[str, str, str]]:
    combos = [(r, a, f) for r in RELEASES for a in ARCHES for f in FLAVOURS]
    return combos[:n]


def populate(store_dir: Path, n_products: int, n_versions: int) -> int:
    store = open_store(str(store_dir))
    count = 0
    start = date(2026, 1, 1)
    for release, arch, flavour in products(n_products):
        pid = records.product_id(release, arch, flavour)
        for i in range(n_versions):
            day = (start + timedelta(days=i // 2)).strftime("%Y%m%d")
            version = day if i % 2 == 0 else f"{day}.1"
            sha = f"{count:064x}"
            rec = VersionRecord(
                product_id=pid,
                version=version,
                release=release,
                arch=arch,
                flavour=flavour,
                channel="stable" if i % 7 == 0 else "daily",
                deprecated=i % 13 == 0,
                build_id=f"b{count}",
                name=f"debian-{release}-{flavour}-{arch}-{day}",
                created=f"{day[:4]}-{day[4:6]}-{day[6:]}T00:00:00+00:00",
                downloads={
                    "disk.raw": Download(
                        ftype="raw", path=f"blobs/sha256/{sha[:2]}/{sha}", size=2 << 30, sha256=sha
                    ),
                    "disk.qcow2": Download(
                        ftype="qcow2",
                        path=f"blobs/sha256/{sha[:2]}/{sha}",
                        size=150 << 20,
                        sha256=sha,
                    ),
                },
                amis={r: Ami(region=r, id=f"ami-{count:017x}") for r in REGIONS if i % 3 == 0},
            )
            store.put(records.record_key(pid, version), records.encode(rec))
            count += 1
    return count


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--products", type=int, default=50)
    parser.add_argument("--versions", type=int, default=200, help="per product")
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="shipyard-bench-catalog-", dir="/tmp"))
    home = work / "gpg"
    server = None
    try:
        sign.ensure_key(home)
        t0 = time.perf_counter()
        total = populate(work / "store", args.products, args.versions)
        t_populate = time.perf_counter() - t0
        store = open_store(str(work / "store"))
        t0 = time.perf_counter()
        index.regenerate(store, home)
        t_cold = time.perf_counter() - t0
        t0 = time.perf_counter()
        idx = index.regenerate(store, home)
        t_warm = time.perf_counter() - t0
        size_kib = sum(store.size(index.products_path(c)) or 0 for c in idx["index"]) / 1024

        verifier = sign.verifier(home)
        t0 = time.perf_counter()
        view = resolve.view_from_store(store, verifier)
        t_load = time.perf_counter() - t0
        verifier.close()

        rng = random.Random(6)
        queries = []
        for _ in range(args.requests):
            release, arch, flavour = rng.choice(products(args.products))
            q = {"release": release, "arch": arch, "flavour": flavour}
            extra = rng.choice(
                [{}, {"region": rng.choice(REGIONS)}, {"channel": "stable"}, {"ftype": "qcow2"}]
            )
            queries.append({**q, **extra})

        inproc = []
        for q in queries:
            flt = resolve.parse_filters(f"{k}={v}" for k, v in q.items())
            t0 = time.perf_counter()
            resolve.resolve(view, flt)
            inproc.append((time.perf_counter() - t0) * 1000)

        port = free_port()
        env = {**os.environ, "SHIPYARD_CATALOG_GNUPGHOME": str(home)}
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "shipyard.cli.main",
                "catalog",
                "serve",
                "--store",
                str(work / "store"),
                "--listen",
                f"127.0.0.1:{port}",
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base, timeout=30) as http:
            deadline = time.monotonic() + 60
            while True:
                try:
                    http.get("/api/v1/resolve", params=queries[0])  # also loads the index
                    break
                except httpx.HTTPError:
                    if time.monotonic() > deadline or server.poll() is not None:
                        raise SystemExit("the catalog server did not start") from None
                    time.sleep(0.1)
            latencies = []
            for q in queries:
                t0 = time.perf_counter()
                resp = http.get("/api/v1/resolve", params=q)
                latencies.append((time.perf_counter() - t0) * 1000)
                assert resp.status_code in (200, 404), resp.text

        rows = [
            ("versions / products", f"{total} / {args.products}"),
            ("write records", f"{t_populate:.2f} s"),
            ("index regeneration, cold (read every record, sign)", f"{t_cold:.2f} s"),
            ("index regeneration, warm (record cache)", f"{t_warm:.2f} s"),
            ("products files size", f"{size_kib:.0f} KiB"),
            ("verify + load the signed index", f"{t_load:.2f} s"),
            (
                "resolve in process p50 / p99",
                f"{statistics.median(inproc):.3f} / {percentile(inproc, 99):.3f} ms",
            ),
            (
                f"resolve over HTTP p50 / p99 ({len(latencies)} requests)",
                f"{statistics.median(latencies):.2f} / {percentile(latencies, 99):.2f} ms",
            ),
        ]
        width = max(len(r[0]) for r in rows)
        print(f"{'measure'.ljust(width)}  value")
        print(f"{'-' * width}  {'-' * 20}")
        for name, value in rows:
            print(f"{name.ljust(width)}  {value}")
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=10)
        subprocess.run(
            ["gpgconf", "--homedir", str(home), "--kill", "gpg-agent"],
            check=False,
            capture_output=True,
        )
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
