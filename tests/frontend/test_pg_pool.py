"""PostgreSQL connections: a pooled one that died while idle is not handed out, and hosts'
requests use the asyncio driver that can take the database URL as given."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import Connection, create_engine, make_url, text
from sqlalchemy.exc import DBAPIError

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


def _backend_pid(conn: Connection) -> int:
    return int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())


@pytest.mark.postgres
def test_a_turn_on_a_connection_kept_from_autocommit_turns_is_one_transaction(
    pg_url: str,
) -> None:
    engine = db.make_engine(pg_url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE marks (n integer)"))
    database = db.Database(engine)

    def write_then_fail(conn: Connection) -> None:
        conn.execute(text("INSERT INTO marks VALUES (1)"))
        raise RuntimeError("the request failed after writing")

    async def turns() -> list[int]:
        first = await database.run(_backend_pid, autocommit=True)
        with pytest.raises(RuntimeError):
            await database.run(write_then_fail)
        # The one connection served both; autocommit turns still write at once.
        await database.run(
            lambda c: c.execute(text("INSERT INTO marks VALUES (2)")), autocommit=True
        )
        second = await database.run(_backend_pid)
        await database.aclose()
        return [first, second]

    first, second = asyncio.run(turns())
    with engine.connect() as conn:
        marks = conn.execute(text("SELECT n FROM marks")).scalars().all()
    engine.dispose()
    assert marks == [2]
    assert first == second


@pytest.mark.postgres
@pytest.mark.parametrize("idle", [False, True])
def test_a_kept_connection_that_died_costs_at_most_one_request(
    pg_url: str, monkeypatch: pytest.MonkeyPatch, idle: bool
) -> None:
    if idle:
        monkeypatch.setattr(db, "PG_PING_AFTER_IDLE", -1.0)  # every kept one counts as idle
    engine = db.make_engine(pg_url)
    database = db.Database(engine)

    async def turns() -> tuple[int, list[str], int]:
        pids = await asyncio.gather(*(database.run(_sleep_then_pid) for _ in range(3)))
        with engine.connect() as conn:  # the database restarted, or killed idle sessions
            for pid in pids:
                conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        failures = []
        for _ in range(3):
            try:
                after = await database.run(_backend_pid)
            except DBAPIError as exc:
                failures.append(type(exc.orig).__name__)
        await database.aclose()
        return len(set(pids)), failures, after

    kept, failures, after = asyncio.run(turns())
    engine.dispose()
    assert kept == 3
    # Idle ones are pinged before use; one in steady use fails its request, and the
    # others, as dead, are dropped with it.
    assert len(failures) == (0 if idle else 1)
    assert after


def _sleep_then_pid(conn: Connection) -> int:
    conn.execute(text("SELECT pg_sleep(0.2)"))
    return _backend_pid(conn)
