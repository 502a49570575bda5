"""Property-based requests generated from /openapi.json never get a server error."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from shipyard.frontend import setup
from shipyard.frontend.api.app import create_app
from shipyard.frontend.core import db
from shipyard.frontend.core.config import Settings
from shipyard.frontend.server import background


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    url = f"sqlite:///{tmp_path_factory.mktemp('fuzz') / 'fe.db'}"
    engine = db.make_engine(url)
    admin = setup.init(engine)["admin_token"]
    with background(create_app(Settings(db_url=url), engine=engine)) as base:
        yield base, admin


def test_no_server_errors(live: tuple[str, str]) -> None:
    base, admin = live
    schema = schemathesis.openapi.from_url(f"{base}/openapi.json")
    # With the admin token the generated requests reach past authentication.
    headers = {"Authorization": f"Bearer {admin}"}
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
        def check(case: Any) -> None:
            response = case.call(headers=headers)
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path}: {response.status_code}")

        check()
    assert failures == []
