"""Requests generated from the catalog server's /openapi.json never get a server error."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings

from shipyard.catalog.add import add_build
from shipyard.catalog.app import Settings, create_app
from shipyard.catalog.store import open_store

TOKEN = "fuzz-admin-token"


def test_no_server_errors(
    tmp_path: Path, make_build: Callable[..., Path], gpg_home: Path, serve: Callable[..., Any]
) -> None:
    store = open_store(str(tmp_path / "catalog"))
    add_build(store, make_build(), home=gpg_home)
    add_build(store, make_build(flavour="web"), home=gpg_home)
    served = serve(create_app(Settings(store, gpg_home, TOKEN)))
    schema = schemathesis.openapi.from_url(f"{served.url}/openapi.json")
    headers = {"Authorization": f"Bearer {TOKEN}"}  # reach past authentication
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
        def check(case: Any) -> None:
            response = case.call(headers=headers)
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path}: {response.status_code}")

        check()
    assert failures == []
