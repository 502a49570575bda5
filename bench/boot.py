"""Boot benchmark: Shipyard's agent against cloud-init on otherwise identical images.

Each image boots RUNS times under qemu with the metadata emulator. For every boot it
measures the seconds from qemu's start to SSH accepting the key pair, and the agent's own
time: for Shipyard's agent, from its first to its last console report; for cloud-init,
the total it reports itself (``cloud-init analyze show``).

    .venv/bin/python bench/boot.py [--runs 3] [--shipyard BUILD] [--cloud-init BUILD]

Without build directories, both images are built first (examples/minimal.yml and the
same manifest with ``agent: cloud-init``).
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from shipyard.vm.metadata import Instance
from shipyard.vm.qemu import VM, boot

REPO = Path(__file__).resolve().parent.parent
MANIFESTS = {
    "shipyard": REPO / "examples" / "minimal.yml",
    "cloud-init": REPO / "tests" / "e2e" / "manifests" / "cloud-init.yml",
}
SSH_OPTIONS = [
    "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
    "-o", "BatchMode=yes", "-o", "ConnectTimeout=5", "-o", "LogLevel=ERROR",
]  # fmt: skip
TIMEOUT = 900.0


def build(manifest: Path, out: Path) -> Path:
    result = subprocess.run(
        [sys.executable, "-m", "shipyard.cli.main", "build", str(manifest), "-o", str(out),
         "--json"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return out / json.loads(result.stdout)["id"]


def ssh(vm: VM, key: Path, command: str) -> subprocess.CompletedProcess[str]:
    argv = ["ssh", "-p", str(vm.ssh_port), "-i", str(key), *SSH_OPTIONS, "admin@127.0.0.1"]
    return subprocess.run([*argv, command], capture_output=True, text=True, check=False)


def seconds_to_ssh(vm: VM, key: Path) -> float:
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        if ssh(vm, key, "true").returncode == 0:
            return time.monotonic() - vm.started
        time.sleep(0.5)
    raise RuntimeError("SSH never accepted the key")


def agent_seconds(vm: VM, agent: str, key: Path) -> float:
    if agent == "shipyard":
        report = vm.wait_ready(TIMEOUT)
        return float(report["total"])
    ssh(vm, key, "sudo cloud-init status --wait")
    shown = ssh(vm, key, "sudo cloud-init analyze show").stdout
    totals = re.findall(r"Total Time: ([0-9.]+) seconds", shown)
    return float(totals[-1]) if totals else float("nan")


def measure(image: Path, agent: str, key: Path) -> tuple[float, float]:
    public = key.with_suffix(".pub").read_text().strip()
    with boot(image, instance=Instance(public_keys=(public,))) as vm:
        to_ssh = seconds_to_ssh(vm, key)
        own = agent_seconds(vm, agent, key)
    return to_ssh, own


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--shipyard", type=Path, metavar="BUILD")
    parser.add_argument("--cloud-init", type=Path, metavar="BUILD", dest="cloud_init")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-boot-") as tmp:
        work = Path(tmp)
        key = work / "id_ed25519"
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
        builds = {"shipyard": args.shipyard, "cloud-init": args.cloud_init}
        rows: dict[str, list[tuple[float, float]]] = {}
        for agent, build_dir in builds.items():
            build_dir = build_dir or build(MANIFESTS[agent], work / "builds")
            rows[agent] = []
            for run in range(1, args.runs + 1):
                to_ssh, own = measure(build_dir / "disk.raw", agent, key)
                rows[agent].append((to_ssh, own))
                print(
                    f"{agent:<10} run {run}: ssh {to_ssh:6.1f} s, agent {own:6.2f} s",
                    file=sys.stderr,
                )
    header = ("agent", "runs", "to SSH s (mean)", "agent own s (mean)", "min", "max")
    print(f"{header[0]:<10} | {header[1]:>4} | {header[2]:>15} | {header[3]:>18} | "
          f"{header[4]:>6} | {header[5]:>6}")  # fmt: skip
    print(f"{'-' * 10}-+-{'-' * 4}-+-{'-' * 15}-+-{'-' * 18}-+-{'-' * 6}-+-{'-' * 6}")
    for agent, values in rows.items():
        owns = [v[1] for v in values]
        print(
            f"{agent:<10} | {len(values):>4} | {statistics.mean(v[0] for v in values):>15.1f} | "
            f"{statistics.mean(owns):>18.2f} | {min(owns):>6.2f} | {max(owns):>6.2f}"
        )
    if rows.get("shipyard") and rows.get("cloud-init"):
        ratio = statistics.mean(v[1] for v in rows["shipyard"]) / statistics.mean(
            v[1] for v in rows["cloud-init"]
        )
        print(f"\nShipyard's agent takes {ratio:.2f}x cloud-init's own time")
    return 0


if __name__ == "__main__":
    sys.exit(main())
