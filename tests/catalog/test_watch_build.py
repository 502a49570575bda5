"""The build server with real builds: a newer package triggers exactly one rebuild."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from catalogloop import make_flat_repo

from shipyard import record
from shipyard.catalog import mirror, records
from shipyard.catalog.add import add_build
from shipyard.catalog.store import open_store
from shipyard.watch import watch_once

pytestmark = pytest.mark.build
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_watch_rebuilds_once_for_a_newer_package_and_then_rests(
    minimal_build: Path, tmp_path: Path, gpg_home: Path
) -> None:
    store = open_store(str(tmp_path / "catalog"))
    add_build(store, minimal_build, home=gpg_home)
    folder = tmp_path / "flavours"
    folder.mkdir()
    shutil.copy(EXAMPLES / "minimal.yml", folder / "minimal.yml")
    installed = record.load(minimal_build).packages["openssh-server"]
    newer = make_flat_repo(tmp_path / "extra", {"openssh-server": f"{installed}+local1"})

    result = watch_once(
        store, folder, tmp_path / "out", extra=[mirror.Source.parse(newer)], keep=3, home=gpg_home
    )
    (flavour,) = result.flavours
    assert result.rebuilt == 1, flavour
    assert "openssh-server" in flavour.changes
    versions = records.load_product(store, records.product_id("bookworm", "amd64", "minimal"))
    assert len(versions) == 2 and versions[0].build_id == Path(str(flavour.build_dir)).name

    def must_not_build(manifest: Path, out: Path) -> Path:
        pytest.fail(f"{manifest.name} was rebuilt although the mirror did not change")

    rest = watch_once(
        store, folder, tmp_path / "out", keep=3, home=gpg_home, builder=must_not_build
    )
    assert rest.rebuilt == 0
