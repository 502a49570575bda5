"""Requests generated from the catalog server's /openapi.json never get a server error."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from fuzz import server_errors

from shipyard.catalog.add import add_build
from shipyard.catalog.api.app import create_app
from shipyard.catalog.api.deps import ServedCatalog
from shipyard.catalog.store import open_store

TOKEN = "fuzz-admin-token"


def test_no_server_errors(
    tmp_path: Path, make_build: Callable[..., Path], gpg_home: Path, serve: Callable[..., Any]
) -> None:
    store = open_store(str(tmp_path / "catalog"))
    add_build(store, make_build(), home=gpg_home)
    add_build(store, make_build(flavour="web"), home=gpg_home)
    served = serve(create_app(ServedCatalog(store, gpg_home, TOKEN)))
    assert server_errors(served.url, TOKEN, max_examples=25) == []
