"""shipyard.lock: written by every build, read back strictly, and holding a build to it."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import pytest

from shipyard.build.context import BuildContext, ImageContents
from shipyard.build.dpkg_status import InstalledPackage
from shipyard.build.lock import LOCK_NAME, Lock, check_locked, lock_of, read_lock, write_lock
from shipyard.build.pipeline import build
from shipyard.errors import BuildError, UsageError
from shipyard.manifest.loader import load_manifest

from .test_stage_failures import MANIFEST, fake_stages

BASH = InstalledPackage("bash", "5.2.15-2+b7", "amd64", "bash", "5.2.15-2", None, "a" * 64)
ZSTD = InstalledPackage("zstd", "1.5.4+dfsg2-5", "amd64", "libzstd", "1.5.4+dfsg2-5")


def test_a_lock_reads_back_as_written(tmp_path: Path) -> None:
    path = tmp_path / LOCK_NAME
    write_lock(path, lock_of([ZSTD, BASH]))
    lock = read_lock(path)
    assert [p.name for p in lock.packages] == ["bash", "zstd"]
    assert lock.packages[0].sha256 == "a" * 64
    check_locked(lock, [BASH, ZSTD])


@pytest.mark.parametrize(
    ("installed", "says"),
    [
        ([replace(BASH, version="5.2.15-2+b8"), ZSTD],
         "bash:amd64 is locked at 5.2.15-2+b7 but 5.2.15-2+b8 was installed"),
        ([BASH], "zstd:amd64 1.5.4+dfsg2-5 is locked but was not installed"),
        ([BASH, ZSTD, replace(ZSTD, name="nano", version="7.2-1")],
         "nano:amd64 7.2-1 was installed but is not in the lock"),
        ([replace(BASH, deb_sha256="b" * 64), ZSTD], "from a .deb other than the locked one"),
    ],
)  # fmt: skip
def test_what_differs_from_the_lock_is_named(installed: list[InstalledPackage], says: str) -> None:
    with pytest.raises(BuildError) as caught:
        check_locked(lock_of([BASH, ZSTD]), installed)
    assert says in str(caught.value)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("{not json", "not a lock file"),
        ('{"packages": [{"name": "bash", "version": "1", "architecture": "amd64", "x": 1}]}',
         "packages.0.x"),
        ('{"packages": [{"name": "b;rm -rf", "version": "1", "architecture": "amd64"}]}',
         "packages.0.name"),
        ('{"format": 9, "packages": []}', "format"),
    ],
)  # fmt: skip
def test_a_bad_lock_is_one_sentence_naming_the_file_and_key(
    tmp_path: Path, text: str, says: str
) -> None:
    path = tmp_path / LOCK_NAME
    path.write_text(text)
    with pytest.raises(UsageError) as caught:
        read_lock(path)
    assert str(caught.value).startswith(f"{path}: ") and says in str(caught.value)
    with pytest.raises(UsageError, match="no such lock file"):
        read_lock(tmp_path / "missing.lock")


def test_a_locked_build_stops_before_assembling_anything_else(tmp_path: Path) -> None:
    path = tmp_path / "image.yml"
    path.write_text(MANIFEST)
    stages, _ = fake_stages(tmp_path / "outside")
    (tmp_path / "outside").mkdir()

    def finalize(ctx: BuildContext) -> ImageContents:
        newer = replace(BASH, version="5.2.15-2+b8")
        return ImageContents(
            packages={"bash": newer.version}, kernel="6.1.0-cloud-amd64", installed=(newer,)
        )

    lock = Lock.model_validate(json.loads(lock_of([BASH]).model_dump_json()))
    with pytest.raises(BuildError, match=re.escape("locked at 5.2.15-2+b7 but 5.2.15-2+b8")):
        build(load_manifest(path), tmp_path / "builds", stages=replace(stages, finalize=finalize),
              cache_dir=tmp_path / "cache", locked=lock)  # fmt: skip
    (build_dir,) = (tmp_path / "builds").iterdir()
    assert sorted(p.name for p in build_dir.iterdir()) == ["build.json", "build.log"]
    assert json.loads((build_dir / "build.json").read_text())["status"] == "failed"
