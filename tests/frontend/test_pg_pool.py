"""PostgreSQL connections: a pooled one that died while idle is not handed out, and hosts'
requests use the asyncio driver that can take the database URL as given."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, make_url, text

from shipyard.frontend.core import db


@pytest.mark.parametrize(
    ("query", "driver", "connect_args"),
    [
        ("", "asyncpg", {"timeout": db.PG_CONNECT_TIMEOUT}),
        ("?sslmode=require", "asyncpg", {"timeout": db.PG_CONNECT_TIMEOUT, "ssl": "require"}),
        # Options only libpq knows stay with psycopg rather than failing at the first join.
        (
            "?sslmode=require&application_name=fe",
            "psycopg",
            {"connect_timeout": db.PG_CONNECT_TIMEOUT},
        ),
    ],
)
def test_hosts_requests_use_a_driver_that_takes_the_url(
    query: str, driver: str, connect_args: dict[str, object]
) -> None:
    url = make_url(db.normalise_url(f"postgresql://fe:pw@db.example:5432/fe{query}"))
    target, args = db.async_target(url)
    assert (target.get_driver_name(), args) == (driver, connect_args)
    assert (target.password, target.host, target.database) == ("pw", "db.example", "fe")
    # The engine is made without connecting, so a wrong driver name shows here.
    db.make_async_engine(create_engine(url))


@pytest.mark.postgres
def test_a_connection_killed_while_idle_is_replaced_before_use(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = db.make_engine(pg_url)
    with engine.connect() as conn, engine.connect() as other:
        pid = conn.execute(text("SELECT pg_backend_pid()")).scalar()
        conn.rollback()
        # The database restarted, or an idle timeout closed it, once it sat in the pool.
        other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    monkeypatch.setattr(db, "PG_PING_AFTER_IDLE", -1.0)  # every connection counts as idle
    with engine.connect() as conn, engine.connect() as second:
        pids = {c.execute(text("SELECT pg_backend_pid()")).scalar() for c in (conn, second)}
    engine.dispose()
    assert pid not in pids
