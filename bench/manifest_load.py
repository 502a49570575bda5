"""How long loading a manifest takes: plain, with an extends chain, with many steps.

Run: .venv/bin/python bench/manifest_load.py
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from shipyard.manifest.loader import load_manifest

ROUNDS = 50


def _minimal(folder: Path) -> Path:
    path = folder / "minimal.yml"
    path.write_text("flavour: minimal\nprovision:\n  - shell: echo hi > /etc/motd\n")
    return path


def _chain(folder: Path) -> Path:
    (folder / "setup.sh").write_text("echo setup\n" * 200)
    parent = "base.yml"
    (folder / parent).write_text("system: {release: bookworm}\npackages: {include: [curl]}\n")
    for level in range(1, 5):
        name = f"level{level}.yml"
        (folder / name).write_text(
            f"extends: {parent}\nflavour: l{level}\nprovision:\n  - script: setup.sh\n"
        )
        parent = name
    return folder / parent


def _many_steps(folder: Path) -> Path:
    (folder / "motd").write_text("hello\n")
    steps = "".join(
        f"  - shell: echo {n}\n  - file: {{source: motd, destination: /etc/m{n}}}\n"
        for n in range(250)
    )
    path = folder / "many.yml"
    path.write_text(f"flavour: many\nprovision:\n{steps}")
    return path


CASES: dict[str, Callable[[Path], Path]] = {
    "minimal (1 step)": _minimal,
    "extends chain of 5 files": _chain,
    "500 provision steps": _many_steps,
}


def main() -> None:
    print(f"{'manifest':<28} {'median ms':>10} {'max ms':>8}")
    with tempfile.TemporaryDirectory() as scratch:
        for label, make in CASES.items():
            folder = Path(scratch) / label.split()[0]
            folder.mkdir()
            path = make(folder)
            load_manifest(path)  # warm imports and caches
            times = []
            for _ in range(ROUNDS):
                start = time.perf_counter()
                load_manifest(path, ["volume.size=3GiB"])
                times.append((time.perf_counter() - start) * 1000)
            print(f"{label:<28} {statistics.median(times):>10.2f} {max(times):>8.2f}")


if __name__ == "__main__":
    main()
