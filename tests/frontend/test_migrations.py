"""The migrations build exactly the tables the models describe, and upgrade an old database."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

from shipyard.frontend.core import db
from shipyard.frontend.models import Base


def test_migrations_match_the_models(db_url: str) -> None:
    engine = db.make_engine(db_url)
    db.upgrade(engine)
    with engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    engine.dispose()
    assert diffs == []


def test_a_database_at_the_first_revision_upgrades_with_its_hosts(db_url: str) -> None:
    engine = db.make_engine(db_url)
    db.upgrade(engine, "0001")
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO appliances (name, description, profile, created_at, updated_at) "
                "VALUES ('backend', '', '{}', '2026-01-01', '2026-01-01')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO hosts (name, appliance_id, rack, rank, macs, ips, state, "
                "transitions, message, created_at, updated_at) VALUES ('backend-0-0', 1, 0, 0, "
                "'[]', '[]', 'installed', '{}', '', '2026-01-01', '2026-01-01')"
            )
        )
    db.upgrade(engine)
    with engine.connect() as conn:
        row = conn.execute(text("SELECT source_ip, nonce_digest FROM hosts")).one()
    engine.dispose()
    assert tuple(row) == ("", None)
