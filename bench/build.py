"""Build examples/minimal.yml cold (empty cache) and warm (cache present, one provision
step changed); print wall time per stage and the image sizes.

    .venv/bin/python bench/build.py [--manifest M] [--keep DIR]

Needs root, like any build. Not a test: it prints a table and asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from shipyard.build.pipeline import STAGE_NAMES, build
from shipyard.manifest.loader import load_manifest
from shipyard.record import BuildRecord, load

REPO = Path(__file__).resolve().parent.parent
MiB = 1024**2


def timed_build(
    manifest: Path, out: Path, cache: Path, overrides: list[str]
) -> tuple[float, BuildRecord]:
    started = time.monotonic()
    build_dir = build(load_manifest(manifest, overrides), out, cache_dir=cache)
    return time.monotonic() - started, load(build_dir)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--manifest", type=Path, default=REPO / "examples" / "minimal.yml")
    parser.add_argument("--keep", type=Path, help="keep builds and cache in this directory")
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("bench/build.py needs root, like any build")

    work = args.keep or Path(tempfile.mkdtemp(prefix="shipyard-bench-"))
    cache, out = work / "cache", work / "builds"
    try:
        cold_s, cold = timed_build(args.manifest, out, cache, [])
        warm_s, warm = timed_build(
            args.manifest,
            out,
            cache,
            [f"provision=[{{shell: 'echo bench {time.time()} > /etc/motd'}}]"],
        )
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)

    rows = [("stage", "cold s", "warm s")]
    for stage in STAGE_NAMES:
        rows.append(
            (stage, f"{cold.stages[stage].seconds:.1f}", f"{warm.stages[stage].seconds:.1f}")
        )
    rows.append(("total (wall)", f"{cold_s:.1f}", f"{warm_s:.1f}"))
    width = [max(len(r[i]) for r in rows) for i in range(3)]
    print(f"\nbuild of {args.manifest.name} ({cold.release}/{cold.architecture})")
    for i, row in enumerate(rows):
        print(
            "  ".join(
                cell.ljust(width[j]) if j == 0 else cell.rjust(width[j])
                for j, cell in enumerate(row)
            )
        )
        if i == 0 or i == len(rows) - 2:
            print("  ".join("-" * w for w in width))
    raw = warm.artifact("raw")
    print(f"\nraw:   {raw.size / MiB:.0f} MiB apparent, {raw.allocated / MiB:.0f} MiB allocated")
    if "qcow2" in warm.formats:
        print(f"qcow2: {warm.formats['qcow2'].size / MiB:.0f} MiB")
    print(f"packages: {len(warm.packages)}, kernel {warm.kernel}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
