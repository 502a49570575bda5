"""Boot benchmark: Shipyard's agent against cloud-init, and any raw image to a marker.

Agent mode: each image boots RUNS times under qemu with the metadata emulator. For every
boot it measures the seconds from qemu's start to SSH accepting the key pair, and the
agent's own time: for Shipyard's agent, from its first to its last console report; for
cloud-init, the total it reports itself (``cloud-init analyze show``).

    .venv/bin/python bench/boot.py [--runs 3] [--shipyard BUILD] [--cloud-init BUILD]
                                   [--only shipyard|cloud-init] [--analyze]

``--analyze`` prints ``systemd-analyze`` (the split between firmware, loader, kernel,
initramfs and userspace), ``blame`` and ``critical-chain`` from inside each booted guest.
Without build directories, both images are built first (examples/minimal.yml and the
same manifest with ``agent: cloud-init``).

Marker mode: any raw image that prints a marker line on its serial console once it is up
(``bench/reference/`` has the unit, and the reference image for Shipyard and its peers):

    .venv/bin/python bench/boot.py --marker [--image NAME=DISK ...] [--firmware uefi,bios]

The peers' reference images are built from bench/peers/ (vmdb2 and debos; each file
says how), and booted here as ``--image vmdb2=peer.img``, on the same machine as ours.
``--baseline NAME`` names the image without the agent: each agent image's ready report
is then also given against that image's marker, run by run.

Without ``--image``, bench/reference/shipyard.yml is built and booted. Images boot in
turn, each firmware RUNS times, so peers share the machine's noise; the table gives
medians from qemu's start to the first console byte (firmware or loader), the kernel's
first line
(where the image prints one), systemd's first line, Shipyard's agent's closing report
(images with the agent, given a user-data script) and the marker. The agent's unit is
part of multi-user.target, so the marker comes after its report: compare an image's
marker with and without the agent (bench/reference/shipyard-agent.yml).
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

from shipyard.cleanup import signals_as_interrupts
from shipyard.errors import Interrupted
from shipyard.vm.console import AGENT_FINAL
from shipyard.vm.metadata import Instance
from shipyard.vm.qemu import VM, boot

REPO = Path(__file__).resolve().parent.parent
MANIFESTS = {
    "shipyard": REPO / "examples" / "minimal.yml",
    "cloud-init": REPO / "tests" / "e2e" / "manifests" / "cloud-init.yml",
}
REFERENCE = REPO / "bench" / "reference" / "shipyard.yml"
# What an image with an agent gets to run at first boot (others ignore it).
USER_DATA = b"#!/bin/sh\necho user data ran > /run/bench-user-data\n"
MARKER = "SHIPYARD-BENCH-MARKER"
# Console milestones, in boot order; each is timed when its first match shows up.
MILESTONES = {
    "console": re.compile(r"\S"),
    "kernel": re.compile(r"Linux version |\[\s*0\.0+\]"),
    "systemd": re.compile(r"systemd\[1\]|Welcome to Debian|systemd 2\d\d running"),
    "ready": AGENT_FINAL,  # images with Shipyard's agent: its closing report
    "marker": re.compile(MARKER),
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
    return out / str(json.loads(result.stdout)["id"])


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


def milestones(vm: VM) -> dict[str, float]:
    """Seconds from qemu's start to each console milestone, up to the marker."""
    seen: dict[str, float] = {}
    deadline = vm.started + TIMEOUT
    while "marker" not in seen:
        if time.monotonic() > deadline or (trouble := vm.trouble()) is not None:
            raise RuntimeError(f"no marker on the console: {trouble or 'timed out'}")
        text = vm.console_text()
        now = time.monotonic() - vm.started
        for name, pattern in MILESTONES.items():
            if name not in seen and pattern.search(text):
                seen[name] = now
        time.sleep(0.05)
    return seen


def marker_bench(
    images: dict[str, Path], firmwares: list[str], runs: int, baseline: str | None = None
) -> None:
    times: dict[tuple[str, str], list[dict[str, float]]] = {}
    for run in range(1, runs + 1):
        for firmware in firmwares:
            for name, image in images.items():
                with boot(image, firmware=firmware, instance=Instance(user_data=USER_DATA)) as vm:
                    seen = milestones(vm)
                times.setdefault((name, firmware), []).append(seen)
                shown = ", ".join(f"{k} {v:5.1f}" for k, v in seen.items())
                print(f"{name:<12} {firmware:<4} run {run}: {shown} ({vm.accelerator})",
                      file=sys.stderr)  # fmt: skip
    names = ["console", "kernel", "systemd", "ready", "marker"]
    print(f"{'image':<12} | {'boot':<4} | {'runs':>4} | "
          + " | ".join(f"{n + ' s':>10}" for n in names) + f" | {'min s':>6}")  # fmt: skip
    print("-" * 13 + "+------+------+" + "+".join("-" * 12 for _ in names) + "+--------")
    for (name, firmware), boots in times.items():
        cells = []
        for milestone in names:
            values = [b[milestone] for b in boots if milestone in b]
            cells.append(f"{statistics.median(values):>10.1f}" if values else f"{'-':>10}")
        fastest = min(b["marker"] for b in boots)
        print(f"{name:<12} | {firmware:<4} | {len(boots):>4} | " + " | ".join(cells)
              + f" | {fastest:>6.1f}")  # fmt: skip
    if baseline is not None:
        print_ready_gaps(times, baseline)


def print_ready_gaps(times: dict[tuple[str, str], list[dict[str, float]]], baseline: str) -> None:
    """Each agent image's ready report against the baseline image's marker, run by run:
    the two booted one after the other, so they share the machine's noise of the moment."""
    print(f"\nready, seconds after {baseline}'s marker (run by run; median):")
    for (name, firmware), boots in times.items():
        base = times.get((baseline, firmware))
        if name == baseline or base is None or not any("ready" in b for b in boots):
            continue
        gaps = [b["ready"] - m["marker"] for b, m in zip(boots, base, strict=False) if "ready" in b]
        runs = " ".join(f"{gap:+.1f}" for gap in gaps)
        print(f"{name:<12} | {firmware:<4} | {runs} | median {statistics.median(gaps):+.1f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--shipyard", type=Path, metavar="BUILD")
    parser.add_argument("--cloud-init", type=Path, metavar="BUILD", dest="cloud_init")
    parser.add_argument("--only", choices=sorted(MANIFESTS), help="boot one of the two only")
    parser.add_argument(
        "--analyze", action="store_true", help="print systemd-analyze's breakdown of each boot"
    )
    parser.add_argument(
        "--marker", action="store_true", help=f"boot raw images to the {MARKER} console line"
    )
    parser.add_argument(
        "--image", action="append", default=[], metavar="NAME=DISK", help="(marker mode)"
    )
    parser.add_argument("--firmware", default="uefi,bios", help="(marker mode) uefi,bios")
    parser.add_argument(
        "--baseline",
        metavar="NAME",
        help="(marker mode) the image without the agent: print each agent image's ready "
        "report against its marker",
    )
    args = parser.parse_args()
    if args.marker or args.image:
        images: dict[str, Path] = {}
        for given in args.image:
            name, _, disk = given.partition("=")
            if not disk:
                parser.error(f"--image {given}: expected NAME=DISK")
            images[name] = Path(disk)
        with tempfile.TemporaryDirectory(prefix="bench-boot-") as tmp:
            if not images:
                images["shipyard"] = build(REFERENCE, Path(tmp)) / "disk.raw"
            if args.baseline is not None and args.baseline not in images:
                parser.error(f"--baseline {args.baseline}: no --image of that name")
            marker_bench(images, args.firmware.split(","), args.runs, args.baseline)
        return 0
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
    # SIGTERM as an interrupt, so a stopped bench powers its VM down and removes it.
    try:
        with signals_as_interrupts():
            sys.exit(main())
    except (Interrupted, KeyboardInterrupt) as stopped:
        sys.exit(f"bench/boot.py: {stopped or 'interrupted'}")
