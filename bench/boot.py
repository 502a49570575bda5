"""Boot benchmark: Shipyard's agent against cloud-init on otherwise identical images.

Each image boots RUNS times under qemu with the metadata emulator. For every boot it
measures the seconds from qemu's start to SSH accepting the key pair, and the agent's own
time: for Shipyard's agent, from its first to its last console report; for cloud-init,
the total it reports itself (``cloud-init analyze show``).

    .venv/bin/python bench/boot.py [--runs 3] [--shipyard BUILD] [--cloud-init BUILD]
                                   [--only shipyard|cloud-init] [--analyze]

``--analyze`` prints ``systemd-analyze`` (the split between firmware, loader, kernel,
initramfs and userspace), ``blame`` and ``critical-chain`` from inside each booted guest.

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


# Where the boot's time goes, read in the guest once it is up.
ANALYZE = (
    "systemd-analyze --no-pager; echo; systemd-analyze blame --no-pager | head -n 15; echo; "
    "systemd-analyze critical-chain --no-pager"
)


def measure(image: Path, agent: str, key: Path, analyze: bool) -> tuple[float, float, float]:
    """Seconds from qemu's start to SSH, the agent's own seconds, seconds to ready."""
    public = key.with_suffix(".pub").read_text().strip()
    with boot(image, instance=Instance(public_keys=(public,))) as vm:
        to_ssh = seconds_to_ssh(vm, key)
        own = agent_seconds(vm, agent, key)
        to_ready = time.monotonic() - vm.started
        if analyze:
            print(f"--- {agent}: {image}", flush=True)
            print(ssh(vm, key, ANALYZE).stdout, flush=True)
    return to_ssh, own, to_ready


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--shipyard", type=Path, metavar="BUILD")
    parser.add_argument("--cloud-init", type=Path, metavar="BUILD", dest="cloud_init")
    parser.add_argument("--only", choices=sorted(MANIFESTS), help="boot one of the two only")
    parser.add_argument(
        "--analyze", action="store_true", help="print systemd-analyze's breakdown of each boot"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-boot-") as tmp:
        work = Path(tmp)
        key = work / "id_ed25519"
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
        builds = {"shipyard": args.shipyard, "cloud-init": args.cloud_init}
        if args.only:
            builds = {args.only: builds[args.only]}
        rows: dict[str, list[tuple[float, float, float]]] = {}
        for agent, build_dir in builds.items():
            build_dir = build_dir or build(MANIFESTS[agent], work / "builds")
            rows[agent] = []
            for run in range(1, args.runs + 1):
                to_ssh, own, to_ready = measure(build_dir / "disk.raw", agent, key, args.analyze)
                rows[agent].append((to_ssh, own, to_ready))
                print(
                    f"{agent:<10} run {run}: ssh {to_ssh:6.1f} s, agent {own:6.2f} s, "
                    f"ready {to_ready:6.1f} s",
                    file=sys.stderr,
                )
    header = ("agent", "runs", "to SSH s (median)", "to ready s (median)", "agent own s", "min")
    print(f"{header[0]:<10} | {header[1]:>4} | {header[2]:>17} | {header[3]:>19} | "
          f"{header[4]:>11} | {header[5]:>6}")  # fmt: skip
    print(f"{'-' * 10}-+-{'-' * 4}-+-{'-' * 17}-+-{'-' * 19}-+-{'-' * 11}-+-{'-' * 6}")
    for agent, values in rows.items():
        owns = [v[1] for v in values]
        print(
            f"{agent:<10} | {len(values):>4} | {statistics.median(v[0] for v in values):>17.1f} | "
            f"{statistics.median(v[2] for v in values):>19.1f} | "
            f"{statistics.median(owns):>11.2f} | {min(owns):>6.2f}"
        )
    if rows.get("shipyard") and rows.get("cloud-init"):
        ratio = statistics.mean(v[1] for v in rows["shipyard"]) / statistics.mean(
            v[1] for v in rows["cloud-init"]
        )
        print(f"\nShipyard's agent takes {ratio:.2f}x cloud-init's own time")
    return 0


if __name__ == "__main__":
    sys.exit(main())
