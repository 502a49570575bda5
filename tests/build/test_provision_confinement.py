"""Provision steps write into the image root and never follow a link out of it.

A bare directory stands in for the image root, and a file in the test's own folder
stands in for the build host's file that an absolute link in the image names.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from shipyard.build import provision
from shipyard.build.cache import Cache
from shipyard.build.context import BuildContext
from shipyard.cleanup import Cleanup
from shipyard.disk.layout import plan_layout
from shipyard.errors import BuildError
from shipyard.manifest.schema import Manifest


def _ctx(tmp_path: Path, steps: list[dict[str, Any]]) -> BuildContext:
    manifest = Manifest.model_validate({"agent": "none", "provision": steps})
    ctx = BuildContext(
        manifest=manifest,
        manifest_path=tmp_path / "m.yml",
        manifest_sha256="0" * 64,
        build_id="b",
        name="n",
        build_dir=tmp_path,
        work_dir=tmp_path / "work",
        cache=Cache(tmp_path / "cache"),
        cleanup=Cleanup(),
        log_file=tmp_path / "log",
        layout=plan_layout(manifest.volume.size, manifest.volume.boot),
    )
    (ctx.root / "etc").mkdir(parents=True)
    (ctx.root / "usr/sbin").mkdir(parents=True)
    return ctx


@pytest.fixture
def chown_calls(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The chroot's chown is recorded, not run: these tests need no root and no chroot."""
    calls: list[list[str]] = []

    def fake_run_in_root(root: Path, argv: list[str], **kwargs: Any) -> None:
        calls.append(list(argv))

    monkeypatch.setattr(provision, "run_in_root", fake_run_in_root)
    return calls


@pytest.fixture
def host_file(tmp_path: Path) -> Path:
    """A file of the build host that the image links to by its absolute path."""
    host = tmp_path / "host" / "zoneinfo" / "UTC"
    host.parent.mkdir(parents=True)
    host.write_bytes(b"TZif host")
    host.chmod(0o644)
    return host


def _source(tmp_path: Path) -> Path:
    source = tmp_path / "files" / "localtime"
    source.parent.mkdir(exist_ok=True)
    source.write_bytes(b"TZif from the manifest")
    return source


def test_file_step_replaces_an_absolute_link_inside_the_image(
    tmp_path: Path, host_file: Path, chown_calls: list[list[str]]
) -> None:
    source = _source(tmp_path)
    ctx = _ctx(
        tmp_path,
        [{"file": {"source": str(source), "destination": "/etc/localtime", "mode": "0666"}}],
    )
    (ctx.root / "etc/localtime").symlink_to(host_file)

    provision.run_provision(ctx)

    assert host_file.read_bytes() == b"TZif host"
    assert host_file.stat().st_mode & 0o777 == 0o644
    written = ctx.root / "etc/localtime"
    assert not written.is_symlink()
    assert written.read_bytes() == b"TZif from the manifest"
    assert written.stat().st_mode & 0o777 == 0o666
    assert chown_calls == [["chown", "root:root", "/etc/localtime"]]


def test_links_on_the_way_are_resolved_inside_the_image(
    tmp_path: Path, host_file: Path, chown_calls: list[list[str]]
) -> None:
    source = _source(tmp_path)
    ctx = _ctx(
        tmp_path,
        [
            {"file": {"source": str(source), "destination": "/etc/app/UTC"}},
            {"file": {"source": str(source), "destination": "/zone/UTC"}},
        ],
    )
    # /etc/app is an absolute link to the host folder, /zone a relative one that climbs.
    (ctx.root / "etc/app").symlink_to(host_file.parent)
    (ctx.root / "zone").symlink_to("../../../../" + str(host_file.parent).lstrip("/"))

    provision.run_provision(ctx)

    assert host_file.read_bytes() == b"TZif host"
    inside = ctx.root / str(host_file.parent).lstrip("/") / "UTC"
    assert inside.read_bytes() == b"TZif from the manifest"


def test_a_link_loop_in_the_image_is_one_sentence(
    tmp_path: Path, chown_calls: list[list[str]]
) -> None:
    source = _source(tmp_path)
    ctx = _ctx(tmp_path, [{"file": {"source": str(source), "destination": "/loop/x"}}])
    (ctx.root / "loop").symlink_to("/loop")
    with pytest.raises(BuildError, match=r"provision\[0\]: /loop/x: too many symbolic links"):
        provision.run_provision(ctx)


def test_a_directory_destination_is_refused(tmp_path: Path, chown_calls: list[list[str]]) -> None:
    source = _source(tmp_path)
    ctx = _ctx(tmp_path, [{"file": {"source": str(source), "destination": "/etc"}}])
    with pytest.raises(BuildError, match=r"provision\[0\]: /etc is a directory in the image"):
        provision.run_provision(ctx)


def test_policy_rc_d_goes_into_the_image_even_through_a_link(
    tmp_path: Path, host_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = _source(tmp_path)
    ctx = _ctx(tmp_path, [{"file": {"source": str(source), "destination": "/etc/a"}}])
    (ctx.root / "usr/sbin").rmdir()
    (ctx.root / "usr/sbin").symlink_to(host_file.parent)
    seen_on_host: list[list[str]] = []
    inside = ctx.root / str(host_file.parent).lstrip("/") / "policy-rc.d"
    seen_inside: list[bool] = []

    def fake_run_in_root(root: Path, argv: list[str], **kwargs: Any) -> None:
        seen_on_host.append(sorted(os.listdir(host_file.parent)))
        seen_inside.append(inside.is_file())

    monkeypatch.setattr(provision, "run_in_root", fake_run_in_root)
    provision.run_provision(ctx)

    assert seen_on_host == [["UTC"]]
    assert seen_inside == [True]
    assert not inside.exists()


def test_cleaning_after_provision_never_follows_links_to_the_host(tmp_path: Path) -> None:
    """A step may leave links where finalize writes and deletes: the host keeps its files."""
    from shipyard.build.finalize import clean_root

    host = tmp_path / "host"
    for name in ("etc/machine-id", "lists/Packages", "keys/ssh_host_rsa_key", "tmp/keep"):
        (host / name).parent.mkdir(parents=True, exist_ok=True)
        (host / name).write_text("host data\n")
    ctx = _ctx(tmp_path, [])
    root = ctx.root
    (root / "etc/machine-id").symlink_to(host / "etc/machine-id")
    (root / "var/lib/apt").mkdir(parents=True)
    (root / "var/lib/apt/lists").symlink_to(host / "lists")
    (root / "etc/ssh").symlink_to(host / "keys")
    (root / "var/tmp").symlink_to(host / "tmp")
    (root / "var/lib/dbus").symlink_to(host / "etc")
    (root / "var/log").mkdir(parents=True)
    (root / "var/log/dpkg.log").write_text("image log\n")

    clean_root(ctx)

    for name in ("etc/machine-id", "lists/Packages", "keys/ssh_host_rsa_key", "tmp/keep"):
        assert (host / name).read_text() == "host data\n", name
    assert (root / "etc/machine-id").read_text() == ""
    assert not (root / "etc/machine-id").is_symlink()
    assert not (root / "var/log/dpkg.log").exists()


def test_cleaning_removes_what_the_image_holds(tmp_path: Path) -> None:
    from shipyard.build.finalize import clean_root

    ctx = _ctx(tmp_path, [])
    root = ctx.root
    lists = root / "var/lib/apt/lists"
    (lists / "partial").mkdir(parents=True)
    (lists / "deb.debian.org_Packages").write_text("x")
    (lists / "lock").write_text("")
    (root / "etc/ssh").mkdir()
    (root / "etc/ssh/ssh_host_ed25519_key").write_text("k")
    (root / "etc/ssh/sshd_config").write_text("c")
    (root / "tmp/sub").mkdir(parents=True)
    (root / "tmp/sub/f").write_text("f")
    (root / "tmp/.hidden").write_text("h")

    clean_root(ctx)

    assert sorted(p.name for p in lists.iterdir()) == ["lock", "partial"]
    assert sorted(p.name for p in (root / "etc/ssh").iterdir()) == ["sshd_config"]
    assert list((root / "tmp").iterdir()) == []
