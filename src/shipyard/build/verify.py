"""Checking a build's files against what its build.json says they are.

Each disk format's size and sha256, each bill of materials' sha256, and the provenance
(when the build has one): its subjects must be these very files, and its signature good.
The first thing that differs is reported in one sentence naming the file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from shipyard.checksum import sha256_file
from shipyard.errors import VerifyError
from shipyard.record import RECORD_NAME, BuildRecord, find_build, load


@dataclass(frozen=True)
class Verified:
    """What was checked and found as recorded."""

    build_dir: Path
    record: BuildRecord
    checked: tuple[str, ...]  # one line per file: "disk.raw: sha256 3f2a…"


def split_target(arg: str | os.PathLike[str]) -> tuple[Path, str | None]:
    """The build directory named by ``arg``, and the one file of it ``arg`` names, if any."""
    path = Path(arg)
    if path.is_file() and path.name != RECORD_NAME:
        return find_build(path.parent), path.name
    return find_build(path), None


def verify_build(arg: str | os.PathLike[str], trusted: Path | None = None) -> Verified:
    """Check the build (or the one disk file) ``arg`` names; VerifyError at the first mismatch.

    ``trusted``: the GnuPG home or public key file the provenance's signature must match
    (default: the catalog's key ring).
    """
    build_dir, only = split_target(arg)
    record = load(build_dir)
    if record.status != "complete":
        raise VerifyError(f"build {record.id} is {record.status}, not complete: nothing to verify")
    artifacts = [a for a in record.formats.values() if only is None or a.path == only]
    if only is not None and not artifacts:
        raise VerifyError(f"{only}: build {record.id} records no such disk image")
    checked: list[str] = []
    for artifact in artifacts:
        checked.append(
            _check_file(build_dir / artifact.path, artifact.sha256, artifact.size, "build.json")
        )
    if only is None:
        for sbom in record.sbom:
            checked.append(_check_file(build_dir / sbom.path, sbom.sha256, None, "build.json"))
        checked.extend(_check_provenance(build_dir, record, trusted))
    return Verified(build_dir=build_dir, record=record, checked=tuple(checked))


def _check_file(path: Path, sha256: str, size: int | None, source: str) -> str:
    if not path.is_file():
        raise VerifyError(f"{path.name}: the file is missing (its {source} names it)")
    actual_size = path.stat().st_size
    if size is not None and actual_size != size:
        raise VerifyError(
            f"{path.name}: its size is {actual_size} bytes but {source} records {size}"
        )
    actual = sha256_file(path)
    if actual != sha256:
        raise VerifyError(
            f"{path.name}: its sha256 is {actual[:16]}… but {source} records {sha256[:16]}…"
        )
    return f"{path.name}: sha256 {actual}"


def _check_provenance(build_dir: Path, record: BuildRecord, trusted: Path | None) -> list[str]:
    from shipyard.build.provenance import PROVENANCE_NAME, check_provenance

    if not (build_dir / PROVENANCE_NAME).exists():
        if record.provenance is not None:
            raise VerifyError(f"{PROVENANCE_NAME}: the file is missing (its build.json names it)")
        return []
    return check_provenance(build_dir, record, trusted)
