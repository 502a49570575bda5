"""The pipeline's bookkeeping with stand-in stages: what a failed build leaves behind.

The stages are replaced by ones that fake their work or fail, so these run without root,
mmdebstrap or a mirror; the real stages are covered by the build-marked tests.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from shipyard.build.context import BaseSystem, BuildContext, ImageContents, ImageFiles
from shipyard.build.pipeline import STAGE_NAMES, Stages, build
from shipyard.errors import BuildError, CacheError, Interrupted
from shipyard.manifest.loader import LoadedManifest, load_manifest
from shipyard.record import Artifact

MANIFEST = """\
name: test-{date}
flavour: minimal
agent: none
system: {release: bookworm, architecture: amd64}
volume: {size: 1GiB, boot: [uefi, bios]}
formats: [raw]
"""


@pytest.fixture
def manifest(tmp_path: Path) -> LoadedManifest:
    path = tmp_path / "image.yml"
    path.write_text(MANIFEST)
    return load_manifest(path)


class Resource:
    """Something a stage makes outside the build directory, with its undo registered."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def make(self, ctx: BuildContext) -> None:
        self.path.mkdir()
        ctx.cleanup.register(f"remove {self.path}", self.path.rmdir)


def fake_stages(outside: Path) -> tuple[Stages, list[Resource]]:
    """Stages that do their work on paper; each of the first four leaves a resource."""
    resources = [Resource(outside / name) for name in STAGE_NAMES]

    def bootstrap(ctx: BuildContext) -> BaseSystem:
        resources[0].make(ctx)
        ctx.root.mkdir()
        return BaseSystem(key="k" * 16, reused=True, mmdebstrap="1.0")

    def configure(ctx: BuildContext) -> None:
        resources[1].make(ctx)

    def agent(ctx: BuildContext) -> None:
        resources[2].make(ctx)

    def provision(ctx: BuildContext) -> None:
        resources[3].make(ctx)

    def finalize(ctx: BuildContext) -> ImageContents:
        return ImageContents(packages={"bash": "5.2"}, kernel="6.1.0-cloud-amd64")

    def assemble(ctx: BuildContext) -> None:
        with open(ctx.raw_image, "wb") as fh:
            fh.truncate(ctx.layout.size)

    def convert(ctx: BuildContext) -> ImageFiles:
        raw = Artifact(
            format="raw",
            path="disk.raw",
            size=ctx.layout.size,
            allocated=0,
            virtual_size=ctx.layout.size,
            sha256="0" * 64,
        )
        return ImageFiles(formats={"raw": raw})

    stages = Stages(bootstrap, configure, agent, provision, finalize, assemble, convert)
    return stages, resources


def failing(error: BaseException) -> Callable[[BuildContext], Any]:
    def stage(ctx: BuildContext) -> Any:
        raise error

    return stage


def only_build(out: Path) -> Path:
    (build_dir,) = out.iterdir()
    return build_dir


def run(manifest: LoadedManifest, tmp_path: Path, stages: Stages) -> Path:
    return build(manifest, tmp_path / "builds", cache_dir=tmp_path / "cache", stages=stages)


def test_fake_stages_make_a_complete_record(manifest: LoadedManifest, tmp_path: Path) -> None:
    (tmp_path / "outside").mkdir()
    stages, resources = fake_stages(tmp_path / "outside")

    build_dir = run(manifest, tmp_path, stages)

    data = json.loads((build_dir / "build.json").read_text())
    assert data["status"] == "complete"
    assert list(data["stages"]) == list(STAGE_NAMES)
    assert data["stages"]["bootstrap"]["cached"] is True
    assert data["kernel"] == "6.1.0-cloud-amd64" and data["packages"] == {"bash": "5.2"}
    assert data["cache"] == {"base_key": "k" * 16, "base_reused": True}
    assert data["tools"]["mmdebstrap"] == "1.0"
    assert set(data["formats"]) == {"raw"}
    # The provenance's signature is there only when this machine has a catalog key.
    names = {p.name for p in build_dir.iterdir()} - {"provenance.intoto.json.asc"}
    assert names == {
        "build.json",
        "build.log",
        "disk.raw",
        "sbom.cdx.json",
        "sbom.spdx.json",
        "provenance.intoto.json",
        "shipyard.lock",
    }
    assert all(r.path.is_dir() for r in resources[:4]), "a successful build keeps its resources"


@pytest.mark.parametrize("failing_stage", ["configure", "provision", "assemble", "convert"])
def test_a_failing_stage_releases_what_earlier_stages_made(
    manifest: LoadedManifest, tmp_path: Path, failing_stage: str
) -> None:
    (tmp_path / "outside").mkdir()
    stages, _ = fake_stages(tmp_path / "outside")
    stages = replace(stages, **{failing_stage: failing(BuildError("qemu-img failed"))})

    with pytest.raises(BuildError, match="qemu-img failed"):
        run(manifest, tmp_path, stages)

    assert not list((tmp_path / "outside").iterdir()), "an earlier stage's resource is left"
    build_dir = only_build(tmp_path / "builds")
    # No image, no scratch tree: only the record of what happened, and the log.
    assert sorted(p.name for p in build_dir.iterdir()) == ["build.json", "build.log"]
    data = json.loads((build_dir / "build.json").read_text())
    assert data["status"] == "failed"
    assert data["error"] == "qemu-img failed"
    done = STAGE_NAMES[: STAGE_NAMES.index(failing_stage)]
    assert list(data["stages"]) == list(done)
    assert "pid" not in data


def test_an_os_error_in_a_stage_is_a_build_error_naming_the_stage(
    manifest: LoadedManifest, tmp_path: Path
) -> None:
    (tmp_path / "outside").mkdir()
    stages, _ = fake_stages(tmp_path / "outside")
    stages = replace(stages, agent=failing(PermissionError(13, "Permission denied", "/etc/x")))

    with pytest.raises(BuildError, match=r"^agent: .*Permission denied"):
        run(manifest, tmp_path, stages)

    assert not list((tmp_path / "outside").iterdir())
    data = json.loads((only_build(tmp_path / "builds") / "build.json").read_text())
    assert data["error"].startswith("agent: ")


@pytest.mark.parametrize(
    ("stop", "recorded"),
    [(KeyboardInterrupt(), "interrupted"), (Interrupted("stopped by signal SIGTERM"), None)],
    ids=["ctrl-c", "sigterm"],
)
def test_an_interrupted_build_is_cleaned_up_and_says_so(
    manifest: LoadedManifest, tmp_path: Path, stop: BaseException, recorded: str | None
) -> None:
    (tmp_path / "outside").mkdir()
    stages, _ = fake_stages(tmp_path / "outside")
    stages = replace(stages, finalize=failing(stop))

    with pytest.raises(type(stop)):
        run(manifest, tmp_path, stages)

    assert not list((tmp_path / "outside").iterdir())
    build_dir = only_build(tmp_path / "builds")
    assert sorted(p.name for p in build_dir.iterdir()) == ["build.json", "build.log"]
    data = json.loads((build_dir / "build.json").read_text())
    assert data["status"] == "failed"
    assert data["error"] == (recorded or str(stop))


def test_a_cache_that_cannot_be_made_fails_before_the_build_directory(
    manifest: LoadedManifest, tmp_path: Path
) -> None:
    (tmp_path / "cache").write_text("a file where the cache should be")
    stages, _ = fake_stages(tmp_path)

    with pytest.raises(CacheError, match="cannot create the build cache"):
        run(manifest, tmp_path, stages)

    assert not (tmp_path / "builds").exists() or not list((tmp_path / "builds").iterdir())


def test_the_context_is_complete_before_the_first_stage(
    manifest: LoadedManifest, tmp_path: Path
) -> None:
    seen: list[BuildContext] = []
    stages, _ = fake_stages(tmp_path)

    def bootstrap(ctx: BuildContext) -> BaseSystem:
        seen.append(ctx)
        raise BuildError("stop here")

    with pytest.raises(BuildError):
        run(manifest, tmp_path, replace(stages, bootstrap=bootstrap))

    (ctx,) = seen
    assert ctx.layout.size == 1024**3
    assert [p.name for p in ctx.layout.partitions] == ["bios", "esp", "root"]
    with pytest.raises(AttributeError):
        ctx.name = "other"  # type: ignore[misc]
