"""`shipyard verify` and `shipyard diff` on builds made by stand-in stages (no root needed).

The builds carry real files: a disk image, the bill of materials and a provenance signed
with a throwaway catalog key; the tests tamper with them as an attacker or a bad disk would.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from shipyard.build.compare import diff_builds
from shipyard.build.context import BaseSystem, BuildContext, ImageContents, ImageFiles
from shipyard.build.pipeline import Stages, build
from shipyard.build.provenance import PROVENANCE_NAME, SIGNATURE_NAME, STATEMENT_TYPE
from shipyard.catalog import sign
from shipyard.manifest.loader import load_manifest
from shipyard.record import Artifact, load

MANIFEST = """\
name: test-{date}
flavour: minimal
agent: none
system: {release: bookworm, architecture: amd64}
volume: {size: 1GiB, boot: [uefi, bios]}
formats: [raw]
"""


@pytest.fixture(scope="module")
def gpg_home() -> Iterator[Path]:
    # gpg-agent's socket path must stay short, so not under pytest's deep temp dirs.
    home = Path(tempfile.mkdtemp(prefix="sy-gpg-", dir="/tmp"))
    sign.ensure_key(home)
    yield home
    sign.stop_agents(home)
    shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(autouse=True)
def _signing_key(gpg_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHIPYARD_CATALOG_GNUPGHOME", str(gpg_home))


def _stages(
    packages: dict[str, str], disk_byte: bytes = b"\x01", disk: Path | None = None
) -> Stages:
    def bootstrap(ctx: BuildContext) -> BaseSystem:
        ctx.root.mkdir()
        return BaseSystem(key="k" * 16, reused=True, mmdebstrap="1.0")

    def nothing(ctx: BuildContext) -> None:
        pass

    def finalize(ctx: BuildContext) -> ImageContents:
        return ImageContents(packages=packages, kernel="6.1.0-cloud-amd64")

    def assemble(ctx: BuildContext) -> None:
        if disk is not None:
            shutil.copyfile(disk, ctx.raw_image)
        else:
            ctx.raw_image.write_bytes(disk_byte * 4096)

    def convert(ctx: BuildContext) -> ImageFiles:
        data = ctx.raw_image.read_bytes()
        raw = Artifact(
            format="raw",
            path="disk.raw",
            size=len(data),
            allocated=len(data),
            virtual_size=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
        )
        return ImageFiles(formats={"raw": raw})

    return Stages(bootstrap, nothing, nothing, nothing, finalize, assemble, convert)


MakeBuild = Callable[..., Path]


@pytest.fixture
def make_build(tmp_path: Path) -> MakeBuild:
    manifest = tmp_path / "image.yml"
    manifest.write_text(MANIFEST)

    def make(
        packages: dict[str, str] | None = None, disk_byte: bytes = b"\x01", disk: Path | None = None
    ) -> Path:
        stages = _stages(packages or {"bash": "5.2.15-2+b7"}, disk_byte, disk)
        return build(
            load_manifest(manifest),
            tmp_path / "builds",
            cache_dir=tmp_path / "cache",
            stages=stages,
        )

    return make


def shipyard(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "shipyard.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ),
    )


def test_a_fresh_build_verifies_with_its_sbom_and_signed_provenance(make_build: MakeBuild) -> None:
    build_dir = make_build()
    record = load(build_dir)
    assert record.provenance is not None and record.provenance.signature == SIGNATURE_NAME
    statement = json.loads((build_dir / PROVENANCE_NAME).read_text())
    assert statement["_type"] == STATEMENT_TYPE
    assert statement["predicateType"] == "https://slsa.dev/provenance/v1"
    assert {s["name"] for s in statement["subject"]} == {
        "disk.raw",
        "sbom.cdx.json",
        "sbom.spdx.json",
    }
    definition = statement["predicate"]["buildDefinition"]
    assert definition["externalParameters"]["manifest"]["digest"] == {
        "sha256": record.manifest_sha256
    }
    uris = [d.get("uri") for d in definition["resolvedDependencies"]]
    assert "pkg:deb/debian/bash@5.2.15-2%2Bb7?arch=amd64&distro=debian-bookworm" in uris

    result = shipyard("verify", str(build_dir))
    assert result.returncode == 0, result.stderr
    assert "disk.raw: sha256" in result.stdout and "good signature" in result.stdout
    assert shipyard("verify", str(build_dir / "disk.raw")).returncode == 0


def test_a_tampered_disk_fails_naming_the_file(make_build: MakeBuild) -> None:
    build_dir = make_build()
    disk = build_dir / "disk.raw"
    with open(disk, "r+b") as fh:
        fh.seek(100)
        fh.write(b"\xff")

    result = shipyard("verify", str(build_dir))

    assert result.returncode == 1
    assert "disk.raw: its sha256 is" in result.stderr and "build.json records" in result.stderr
    assert "Traceback" not in result.stderr
    assert shipyard("verify", str(disk)).returncode == 1


def test_a_tampered_provenance_fails_even_with_build_json_rewritten(
    make_build: MakeBuild,
) -> None:
    build_dir = make_build()
    path = build_dir / PROVENANCE_NAME
    statement = json.loads(path.read_text())
    statement["predicate"]["runDetails"]["builder"]["id"] = "https://evil.example/builder"
    path.write_text(json.dumps(statement, indent=2) + "\n")

    result = shipyard("verify", str(build_dir))
    assert result.returncode == 1
    assert f"{PROVENANCE_NAME}: its sha256 is" in result.stderr

    # An attacker who also rewrites build.json's digest still lacks the signing key.
    data = json.loads((build_dir / "build.json").read_text())
    data["provenance"]["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
    (build_dir / "build.json").write_text(json.dumps(data))
    result = shipyard("verify", str(build_dir))
    assert result.returncode == 1
    assert "signature is bad" in result.stderr


def test_a_missing_sbom_fails(make_build: MakeBuild) -> None:
    build_dir = make_build()
    (build_dir / "sbom.cdx.json").unlink()
    result = shipyard("verify", str(build_dir))
    assert result.returncode == 1
    assert "sbom.cdx.json: the file is missing" in result.stderr


def test_diff_names_added_removed_and_upgraded_packages(make_build: MakeBuild) -> None:
    old = make_build({"bash": "5.2.15-2+b7", "nano": "7.2-1", "zstd": "1.5.4+dfsg2-5"})
    new = make_build(
        {"bash": "5.2.15-2+b8", "vim-tiny": "2:9.0.1378-2", "zstd": "1.5.4+dfsg2-5"}, b"\x02"
    )

    diff = diff_builds(load(old), load(new))

    assert [(c.name, c.old, c.new) for c in diff.upgraded] == [
        ("bash", "5.2.15-2+b7", "5.2.15-2+b8")
    ]
    assert [c.name for c in diff.added] == ["vim-tiny"]
    assert [c.name for c in diff.removed] == ["nano"]
    assert [d.same for d in diff.disks] == [False] and diff.manifest_same
    result = shipyard("diff", str(old), str(new), "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["packages"]["removed"] == [
        {"name": "nano", "old": "7.2-1", "new": ""}
    ]
    same = shipyard("diff", str(old), str(old))
    assert "packages: the same" in same.stdout and "disk raw: identical" in same.stdout
    # Stand-in disks hold no partition table: where they differ is said, with why no more.
    assert "first difference at byte 0" in result_text(shipyard("diff", str(old), str(new)))


def result_text(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return result.stdout


def test_diff_says_which_partition_and_file_differ(make_build: MakeBuild, tmp_path: Path) -> None:
    from diskloop import FILES, make_disk

    old = make_build(disk=make_disk(tmp_path / "a.raw", FILES))
    new = make_build(disk=make_disk(tmp_path / "b.raw", {**FILES, "/etc/hostname": "two\n"}))
    out = result_text(shipyard("diff", str(old), str(new), "--files"))
    assert "disk raw: differ" in out
    # The file's block, or its folder's inode (its change time is the tree's): the root.
    assert "partition 2 (root), ext4 " in out and "/etc" in out
    assert "files: 0 added, 0 removed, 1 changed" in out
    assert "changed (content) /etc/hostname" in " ".join(out.split())
    listed = json.loads(result_text(shipyard("diff", str(old), str(new), "--files", "--json")))
    assert listed["first_difference"]["old"]["filesystem"] == "ext4"
    assert listed["files"]["changed"] == [["/etc/hostname", "content"]]
