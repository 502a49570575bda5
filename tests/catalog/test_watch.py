"""The build server: compare recorded builds with a real local apt repository."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from catalogloop import make_flat_repo, make_mirror

from shipyard.catalog import mirror, records
from shipyard.catalog.add import add_build
from shipyard.catalog.results import WatchResult
from shipyard.catalog.store import Store, open_store
from shipyard.debversion import compare_versions
from shipyard.watch import decide, watch_once

BuildMaker = Callable[..., Path]
INSTALLED = {"hello": "2.10-3", "openssh-server": "1:9.2p1-2+deb12u3", "libc6": "2.36-9+deb12u9"}


def write_manifest(folder: Path, flavour: str, mirror_url: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{flavour}.yml"
    path.write_text(
        f"flavour: {flavour}\n"
        "system: {release: bookworm, architecture: amd64}\n"
        f"packages: {{mirror: '{mirror_url}', security_mirror: '{mirror_url}-security'}}\n"
    )
    return path


@pytest.fixture
def setup(tmp_path: Path, make_build: BuildMaker, gpg_home: Path) -> tuple[Store, Path, str]:
    """A catalog holding one build per flavour, and a mirror offering what they installed."""
    mirror_url = make_mirror(tmp_path / "mirror", {**INSTALLED, "curl": "7.88.1-10+deb12u5"})
    store = open_store(str(tmp_path / "catalog"))
    folder = tmp_path / "flavours"
    for flavour in ("minimal", "web"):
        write_manifest(folder, flavour, mirror_url)
        packages = dict(INSTALLED) if flavour == "minimal" else {"libc6": INSTALLED["libc6"]}
        add_build(store, make_build(flavour=flavour, packages=packages), home=gpg_home)
    return store, folder, mirror_url


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("1.0", "1.0-1"),
        ("1:0.1", "2.0"),
        ("1.0~rc1", "1.0"),
        ("2.36-9+deb12u4", "2.36-9+deb12u3"),
        ("7.88.1-10+deb12u5", "7.88.1-10+deb12u12"),
        ("1.0a", "1.0+"),
        ("1.0", "1.0.0"),
        ("0.9~", "0.9"),
        ("2.10-3", "2.10-3"),
        ("1:9.2p1-2+deb12u3", "1:9.2p1-2+deb12u2"),
        ("1.2~~", "1.2~"),
        ("10", "9"),
        ("1.0-0.1", "1.0-0"),
    ],
)
def test_versions_sort_as_dpkg_sorts_them(a: str, b: str) -> None:
    ours = compare_versions(a, b)
    ours = (ours > 0) - (ours < 0)
    dpkg = {"lt": -1, "eq": 0, "gt": 1}
    found = [
        v
        for op, v in dpkg.items()
        if subprocess.run(["dpkg", "--compare-versions", a, op, b]).returncode == 0
    ]
    assert found == [ours]


def test_unchanged_mirror_means_no_rebuild(setup: tuple[Store, Path, str]) -> None:
    store, folder, _ = setup
    decision = decide(store, folder / "minimal.yml", [])
    assert not decision.rebuild and decision.reason == "up to date"
    assert decision.last_version == "20261120"


def test_a_newer_package_on_a_layered_repo_means_rebuild(
    setup: tuple[Store, Path, str], tmp_path: Path
) -> None:
    store, folder, _ = setup
    extra = [mirror.Source.parse(make_flat_repo(tmp_path / "extra", {"hello": "2.10-4"}))]
    decision = decide(store, folder / "minimal.yml", extra)
    assert decision.rebuild and decision.changes == {"hello": ("2.10-3", "2.10-4")}
    assert "hello 2.10-3 -> 2.10-4" in decision.reason
    assert not decide(store, folder / "web.yml", extra).rebuild  # web has no hello


def test_a_flavour_without_a_build_is_built(setup: tuple[Store, Path, str]) -> None:
    store, folder, mirror_url = setup
    path = write_manifest(folder, "db", mirror_url)
    decision = decide(store, path, [])
    assert decision.rebuild and decision.reason == "no build of this flavour yet"


def test_watch_rebuilds_exactly_the_changed_flavour(
    setup: tuple[Store, Path, str], tmp_path: Path, make_build: BuildMaker, gpg_home: Path
) -> None:
    store, folder, _ = setup
    built: list[Path] = []

    def builder(manifest: Path, out: Path) -> Path:
        # Stands in for the pipeline: the image it would make installs the layered package.
        built.append(manifest)
        packages = {**INSTALLED, "hello": "2.10-4"}
        return make_build(
            flavour=manifest.stem, packages=packages, created="2026-11-21T10:00:00+00:00"
        )

    def publisher(build_dir: Path, manifest: Any) -> list[str]:
        return []

    def one_pass(extra: list[mirror.Source]) -> WatchResult:
        return watch_once(
            store,
            folder,
            tmp_path / "out",
            extra=extra,
            keep=5,
            home=gpg_home,
            builder=builder,
            publisher=publisher,
        )

    assert one_pass([]).rebuilt == 0 and built == []
    extra = [mirror.Source.parse(make_flat_repo(tmp_path / "extra", {"hello": "2.10-4"}))]
    assert one_pass(extra).rebuilt == 1 and [p.name for p in built] == ["minimal.yml"]
    newest = records.load_product(store, records.product_id("bookworm", "amd64", "minimal"))[0]
    assert newest.version == "20261121" and newest.packages["hello"] == "2.10-4"
    assert one_pass(extra).rebuilt == 0 and len(built) == 1  # settled
