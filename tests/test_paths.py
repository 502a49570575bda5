"""Every kind of file goes under its own XDG base directory, read the same way everywhere."""

from __future__ import annotations

from pathlib import Path

import pytest

from shipyard import paths
from shipyard.build.cache import default_cache_dir
from shipyard.catalog.sign import default_home
from shipyard.catalog.store import default_store_url
from shipyard.frontend.core.config import default_tls_dir
from shipyard.vm.identity import default_key_dir


def test_each_default_lives_under_its_xdg_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for variable in ("XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"):
        monkeypatch.setenv(variable, str(tmp_path / variable))
    for variable in ("SHIPYARD_CACHE", "SHIPYARD_CATALOG", "SHIPYARD_CATALOG_GNUPGHOME"):
        monkeypatch.delenv(variable, raising=False)
    data = tmp_path / "XDG_DATA_HOME" / "shipyard"
    assert Path(default_store_url()) == data / "catalog"
    assert default_home() == data / "catalog-gnupg"
    assert default_tls_dir() == data / "tls"
    assert default_key_dir() == tmp_path / "XDG_STATE_HOME" / "shipyard" / "imds"
    assert default_cache_dir() == tmp_path / "XDG_CACHE_HOME" / "shipyard"


@pytest.mark.parametrize("value", ["", "relative/dir"])
def test_an_empty_or_relative_xdg_value_means_the_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_DATA_HOME", value)
    monkeypatch.setenv("XDG_STATE_HOME", value)
    monkeypatch.setenv("XDG_CACHE_HOME", value)
    assert paths.data_dir() == tmp_path / ".local" / "share" / "shipyard"
    assert paths.state_dir() == tmp_path / ".local" / "state" / "shipyard"
    assert paths.cache_dir() == tmp_path / ".cache" / "shipyard"
