"""Helpers for the catalog tests: real apt repositories made with dpkg-deb and
apt-ftparchive, and publish entries made as publish makes them."""

from __future__ import annotations

import subprocess
from pathlib import Path

from shipyard.record_sections import EbsPublishEntry, RegionImage


def make_deb(pool: Path, name: str, version: str) -> None:
    root = pool / f"{name}-{version}"
    (root / "DEBIAN").mkdir(parents=True)
    (root / "DEBIAN" / "control").write_text(
        f"Package: {name}\nVersion: {version}\nArchitecture: amd64\n"
        f"Maintainer: Test <test@example.org>\nDescription: test package {name}\n"
    )
    deb = pool / f"{name}_{version.replace(':', '%3a')}_amd64.deb"
    subprocess.run(
        ["dpkg-deb", "--build", "--root-owner-group", str(root), str(deb)],
        check=True,
        capture_output=True,
    )
    subprocess.run(["rm", "-rf", str(root)], check=True)


def make_mirror(repo: Path, packages: dict[str, str]) -> str:
    """A Debian-layout repository for bookworm/main/amd64, made with apt-ftparchive."""
    pool = repo / "pool" / "main"
    pool.mkdir(parents=True)
    for name, version in packages.items():
        make_deb(pool, name, version)
    index = repo / "dists" / "bookworm" / "main" / "binary-amd64"
    index.mkdir(parents=True)
    out = subprocess.run(
        ["apt-ftparchive", "packages", "pool"], cwd=repo, check=True, capture_output=True, text=True
    ).stdout
    (index / "Packages").write_text(out)
    subprocess.run(["xz", "-k", str(index / "Packages")], check=True)
    return f"file://{repo}"


def make_flat_repo(repo: Path, packages: dict[str, str]) -> str:
    """A flat repository (``deb URL ./``), as one layers on a mirror for local packages."""
    repo.mkdir(parents=True)
    for name, version in packages.items():
        make_deb(repo, name, version)
    out = subprocess.run(
        ["apt-ftparchive", "packages", "."], cwd=repo, check=True, capture_output=True, text=True
    ).stdout
    (repo / "Packages").write_text(out)
    return f"file://{repo} ./"


def ebs_entry(
    images: dict[str, tuple[str, str | None]],
    *,
    boot_mode: str = "uefi-preferred",
    name: str = "debian-bookworm-minimal-amd64",
) -> EbsPublishEntry:
    """A publish entry as ``publish --to ec2`` records it: (AMI, snapshot) by region."""
    region = next(iter(images))
    return EbsPublishEntry(
        time="2026-11-20T11:00:00Z",
        name=name,
        region=region,
        image_id=images[region][0],
        snapshot_id=images[region][1] or "",
        architecture="x86_64",
        boot_mode=boot_mode,
        images={r: RegionImage(image_id=a, snapshot_id=s) for r, (a, s) in images.items()},
        reused=False,
    )
