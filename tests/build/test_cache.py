"""Cache keys: the same inputs give the same key; anything that changes the base, a new one."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from shipyard.build.bootstrap import base_inputs
from shipyard.build.cache import Cache, cache_key
from shipyard.manifest.schema import Manifest


def _key(tmp_path: Path, **manifest: object) -> str:
    return cache_key(base_inputs(Manifest.model_validate({"agent": "none", **manifest})))


def test_same_inputs_same_key(tmp_path: Path) -> None:
    assert _key(tmp_path) == _key(tmp_path)


@pytest.mark.parametrize(
    "unrelated",
    [
        {"provision": [{"shell": "echo changed"}]},
        {"name": "other-{date}"},
        {"description": "other"},
        {"volume": {"size": "4GiB"}},
        {"formats": ["raw", "vmdk"]},
        {"system": {"hostname": "other", "user": "ops"}},
        {"bootstrap": [{"shell": "true"}]},
    ],
)
def test_changes_that_do_not_touch_the_base_keep_the_key(
    tmp_path: Path, unrelated: dict[str, object]
) -> None:
    assert _key(tmp_path, **unrelated) == _key(tmp_path)


@pytest.mark.parametrize(
    "relevant",
    [
        {"system": {"release": "trixie"}},
        {"system": {"architecture": "arm64"}},
        {"system": {"timezone": "Europe/Berlin"}},
        {"system": {"locale": "de_DE.UTF-8"}},
        {"system": {"initramfs": "most"}},
        {"packages": {"mirror": "http://mirror.example/debian"}},
        {"packages": {"security_mirror": "http://mirror.example/debian-security"}},
        {"packages": {"include": ["htop"]}},
        {"packages": {"exclude": ["sudo"]}},
        {"packages": {"components": ["main", "contrib"]}},
        {"packages": {"docs": True}},
        {"packages": {"hwdb": True}},
        {"agent": "cloud-init"},
    ],
)
def test_changes_to_the_base_make_a_new_key(tmp_path: Path, relevant: dict[str, object]) -> None:
    assert _key(tmp_path, **relevant) != _key(tmp_path)


def test_include_order_does_not_matter(tmp_path: Path) -> None:
    a = _key(tmp_path, packages={"include": ["htop", "curl"]})
    b = _key(tmp_path, packages={"include": ["curl", "htop"]})
    assert a == b


def test_stale_base_is_not_reused(tmp_path: Path) -> None:
    cache = Cache(tmp_path, max_age=60)
    cache.prepare()
    new = cache.new_base_dir("k", "b1")
    new.mkdir()
    tree = cache.install_base("k", new, {"mmdebstrap": "1.0"})
    assert cache.fresh_base("k") == tree
    assert cache.read_base_meta("k") == {"mmdebstrap": "1.0"}
    os.utime(cache.base_meta("k"), (0, 0))
    assert cache.fresh_base("k") is None
    assert cache.fresh_base("missing") is None


def test_refreshed_base_replaces_the_old_tree_by_rename(tmp_path: Path) -> None:
    cache = Cache(tmp_path)
    cache.prepare()
    first = cache.new_base_dir("k", "b1")
    first.mkdir()
    (first / "marker").write_text("old")
    cache.install_base("k", first, {})
    second = cache.new_base_dir("k", "b2")
    second.mkdir()
    (second / "marker").write_text("new")
    tree = cache.install_base("k", second, {})
    assert (tree / "marker").read_text() == "new"
    # The old tree stays until no build can still have it mounted.
    (old,) = (tmp_path / "base").glob(".old-k-*")
    assert (old / "marker").read_text() == "old"
    os.utime(old, (0, 0))
    cache.remove_stale_trees()
    assert not old.exists() and tree.exists()


def test_adopted_debs_are_kept_once(tmp_path: Path) -> None:
    cache = Cache(tmp_path / "cache")
    downloaded = tmp_path / "dl"
    downloaded.mkdir()
    (downloaded / "a_1_amd64.deb").write_bytes(b"a")
    (downloaded / "b_1_amd64.deb").write_bytes(b"b")
    assert cache.adopt_debs(downloaded, "bookworm", "amd64") == 2
    (downloaded / "a_1_amd64.deb").write_bytes(b"a")
    assert cache.adopt_debs(downloaded, "bookworm", "amd64") == 0
    names = sorted(p.name for p in cache.debs("bookworm", "amd64").iterdir())
    assert names == ["a_1_amd64.deb", "b_1_amd64.deb"]
