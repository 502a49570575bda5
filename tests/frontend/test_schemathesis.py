"""Property-based requests generated from /openapi.json never get a server error."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fuzz import server_errors

from shipyard.frontend import setup
from shipyard.frontend.api.app import create_app
from shipyard.frontend.core import db
from shipyard.frontend.core.config import FrontendConfig
from shipyard.frontend.server import background


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    url = f"sqlite:///{tmp_path_factory.mktemp('fuzz') / 'fe.db'}"
    engine = db.make_engine(url)
    admin = setup.init(engine)["admin_token"]
    with background(create_app(FrontendConfig(db_url=url), engine=engine)) as base:
        yield base, admin


def test_no_server_errors(live: tuple[str, str]) -> None:
    base, admin = live
    assert server_errors(base, admin, max_examples=30) == []
