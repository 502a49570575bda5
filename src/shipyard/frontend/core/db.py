"""Engines, sessions and migrations: SQLite in WAL mode by default, PostgreSQL by URL."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import anyio.to_thread
from sqlalchemy import URL, Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.exc import DBAPIError, DisconnectionError, OperationalError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.orm import Session, sessionmaker

from shipyard.errors import FrontendError

T = TypeVar("T")
MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def normalise_url(url: str) -> str:
    """Map postgresql:// to the psycopg 3 driver, which is the one installed."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL; None for other databases and for memory."""
    if not url.startswith("sqlite"):
        return None
    path = url.split(":///", 1)[-1]
    return Path(path) if path and path != ":memory:" else None


def require_initialised(url: str) -> None:
    """Refuse, before anything is created, a SQLite database `frontend init` never made."""
    path = sqlite_path(url)
    if path is not None and not path.is_file():
        raise FrontendError(
            f"there is no frontend database at {path}",
            hint="run `shipyard frontend init` first, with the same database",
        )


def require_folder(url: str) -> None:
    """Refuse a SQLite file in a folder that does not exist: a typo should not make one."""
    path = sqlite_path(url)
    if path is not None and not path.parent.is_dir():
        raise FrontendError(f"the folder {path.parent} does not exist; create it first")


# Connections one frontend process keeps to PostgreSQL; replicas multiply it.
PG_CONNECTIONS = 20


# How long a request waits for SQLite's write lock while another process holds it; past
# that the request is answered 503 with Retry-After (the app's OperationalError handler).
SQLITE_BUSY_SECONDS = 5


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # Let SQLAlchemy's "begin" event issue BEGIN itself (see _sqlite_begin).
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    # WAL with NORMAL is durable across application crashes, which is what a host DB needs.
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_SECONDS * 1000}")
    cur.close()


def _sqlite_begin(conn: Any) -> None:
    # A deferred BEGIN that later writes fails at once with SQLITE_BUSY when another
    # writer committed in between; taking the write lock up front makes writers queue.
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def _private_file(path: Path) -> None:
    """Create the SQLite file 0600 before SQLite opens it (its -wal and -shm take its mode)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise FrontendError(f"cannot open the frontend database {path}: {exc.strerror}") from exc
    try:
        os.fchmod(fd, 0o600)
    except OSError:
        pass  # not ours to change; the owner chose its mode
    finally:
        os.close(fd)
    for suffix in ("-wal", "-shm"):
        side = path.with_name(path.name + suffix)
        if side.exists():
            side.chmod(0o600)


PG_CONNECT_TIMEOUT = 5


def _check_reachable(engine: Engine) -> None:
    """One sentence (password hidden) instead of a driver traceback when the server is not there."""
    try:
        with engine.connect():
            pass
    except OperationalError as exc:
        where = engine.url.render_as_string(hide_password=True)
        first = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
        raise FrontendError(
            f"cannot connect to the database {where}: {first}",
            hint="start PostgreSQL there, or give the URL of one that runs",
        ) from exc


# A pooled PostgreSQL connection idle longer than this is pinged before use. Pinging on
# every checkout (pool_pre_ping) cost one more round trip per request, about a fifth of
# a host report's statements; a connection in steady use needs no ping, and after a
# database restart the first statement's error invalidates the rest of the pool anyway.
PG_PING_AFTER_IDLE = 10.0


def _ping_if_idle(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
    now = time.monotonic()
    last = record.info.get("last_used", now)
    record.info["last_used"] = now
    if now - last <= PG_PING_AFTER_IDLE:
        return
    try:
        # Through a cursor: the asyncio engine hands over an adapted connection.
        cursor = dbapi_conn.cursor()
        cursor.execute("SELECT 1")
        cursor.close()
        dbapi_conn.rollback()
    except Exception as exc:
        # The pool drops this connection and checks out (or opens) another.
        raise DisconnectionError(f"a pooled connection was dead: {exc}") from exc


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite gets WAL, foreign keys and a busy timeout."""
    url = normalise_url(url)
    if url.startswith("sqlite"):
        path = url.split(":///", 1)[-1]
        if path and path != ":memory:":
            _private_file(Path(path))
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            pool_size=8,
            max_overflow=8,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    if url.startswith("postgresql"):
        engine = create_engine(url, **_pg_pool_options())
        event.listen(engine, "checkout", _ping_if_idle)
        _check_reachable(engine)
        return engine
    raise FrontendError(f"database URL {url!r} is neither sqlite:/// nor postgresql://")


def _pg_pool_options() -> dict[str, Any]:
    return {
        "pool_size": PG_CONNECTIONS,
        "max_overflow": 0,
        "pool_timeout": 120,
        "connect_args": {"connect_timeout": PG_CONNECT_TIMEOUT},
    }


def make_async_engine(engine: Engine) -> AsyncEngine:
    """The same PostgreSQL database as ``engine``, through asyncio connections."""
    url, connect_args = async_target(engine.url)
    options = {**_pg_pool_options(), "connect_args": connect_args}
    async_engine = create_async_engine(url, **options)
    event.listen(async_engine.sync_engine, "checkout", _ping_if_idle)
    return async_engine


def async_target(url: URL) -> tuple[URL, dict[str, Any]]:
    """The asyncio driver's URL and connect arguments for a psycopg ``url``.

    asyncpg where the URL allows it: against psycopg's asyncio connections it took about
    a fifth less time in bench/frontend_load.py, the server's CPU being the limit there.
    URL options other than sslmode are psycopg's (libpq's) and stay with it.
    """
    if not set(url.query) <= {"sslmode"}:
        return url, {"connect_timeout": PG_CONNECT_TIMEOUT}
    args: dict[str, Any] = {"timeout": PG_CONNECT_TIMEOUT}
    if "sslmode" in url.query:
        args["ssl"] = url.query["sslmode"]  # asyncpg takes libpq's mode names
    return url.set(drivername="postgresql+asyncpg", query={}), args


def session_factory(engine: Engine) -> sessionmaker[Any]:
    return sessionmaker(engine, expire_on_commit=False)


class Database:
    """Sessions over one engine, and the queue SQLite writers wait in."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.sessions = session_factory(engine)
        self.inline = is_sqlite(engine)
        self._inline_conn: Connection | None = None
        # PostgreSQL work runs on asyncio connections, in the event loop (see run).
        self._async_engine = None if self.inline else make_async_engine(engine)
        # Requests wait for a turn in the event loop, not in worker threads or the
        # connection pool: SQLite has one writer anyway (queueing is far cheaper than
        # polling its busy handler), and PostgreSQL has as many turns as connections.
        self.turns = asyncio.Semaphore(1 if self.inline else PG_CONNECTIONS)
        # PostgreSQL connections between turns, by whether they are in autocommit mode
        # (switching costs more than a statement), with when each was last used.
        self._kept: dict[bool, list[tuple[AsyncConnection, float]]] = {True: [], False: []}

    async def run(self, work: Callable[[Connection], T], *, autocommit: bool = False) -> T:
        """Run ``work`` on a connection in one transaction, once it is our turn.

        With ``autocommit``, PostgreSQL runs each statement as its own transaction (no
        BEGIN and COMMIT round trips), for work whose single write checks what it read.

        On SQLite the work runs in the event loop itself: a host's request is a few
        indexed statements in a WAL database, well under a millisecond, and handing it
        to a worker thread and back cost more than the work (and the GIL ping-pong
        between the two threads more still). But the loop never waits for a lock: when
        another process holds SQLite's write lock, the work waits for it in a worker
        thread, up to SQLITE_BUSY_SECONDS, then fails as busy (503 with Retry-After).

        PostgreSQL work runs in the event loop too, on an asyncio connection: SQLAlchemy
        runs the (synchronous) work in a greenlet that gives the loop back at every
        network wait. Worker threads cost more than the work here as well: one process
        took 24 s for 2,000 backends of bench/frontend_load.py with them, 18 s without.
        """
        async with self.turns:
            if self._async_engine is not None:
                return await self._run_async(work, autocommit)
            if self.inline:
                try:
                    return self._run_inline(work)
                except OperationalError as exc:
                    if not _is_busy(exc):
                        raise
                # Another process holds the write lock. Waiting for it in the event loop
                # stalled every request, /healthz included, for the whole busy timeout:
                # wait in a worker thread instead (our transaction was rolled back).
            return await anyio.to_thread.run_sync(self._run, work)

    async def _run_async(self, work: Callable[[Connection], T], autocommit: bool) -> T:
        # A turn keeps its connection open for the next one, as _run_inline does: checking
        # a connection out of the pool and back in for each request, with the events and
        # bookkeeping that go with it, cost more than a host report's statements.
        conn, isolation = await self._kept_connection(autocommit)
        try:
            if isolation != autocommit:
                level = "AUTOCOMMIT" if autocommit else "READ COMMITTED"
                await conn.execution_options(isolation_level=level)
            result = await conn.run_sync(_autocommitted if autocommit else _transaction, work)
        except SQLAlchemyError as exc:
            await conn.close()
            if isinstance(exc, DBAPIError) and exc.connection_invalidated:
                # The server went away: the other kept connections are as dead as this one.
                await self._close_kept(invalidate=True)
            raise
        except Exception:  # the request's own refusal (403, 409, a race), not the driver's
            # Its statements ended and were rolled back: the connection is as clean as
            # after a success. Ctrl-C and cancellation go on to the clause below.
            self._kept[autocommit].append((conn, time.monotonic()))
            raise
        except BaseException:
            # Cancelled: back to the pool, which rolls back whatever the turn left.
            await conn.close()
            raise
        self._kept[autocommit].append((conn, time.monotonic()))
        return result

    async def _kept_connection(self, autocommit: bool) -> tuple[AsyncConnection, bool | None]:
        """A connection kept from an earlier turn, preferably one in the wanted mode, else
        one from the pool; and whether it is in autocommit mode (None: the engine's)."""
        assert self._async_engine is not None
        for mode in (autocommit, not autocommit):
            kept = self._kept[mode]
            while kept:
                conn, last_used = kept.pop()
                if time.monotonic() - last_used <= PG_PING_AFTER_IDLE:
                    return conn, mode
                # Idle long enough to have died unseen: back to the pool, whose checkout
                # pings it (_ping_if_idle) and replaces it when it is dead.
                await conn.close()
        return await self._async_engine.connect(), None

    async def _close_kept(self, *, invalidate: bool = False) -> None:
        for kept in self._kept.values():
            while kept:
                conn, _last_used = kept.pop()
                await (conn.invalidate() if invalidate else conn.close())

    def _run_inline(self, work: Callable[[Connection], T]) -> T:
        # Turns are taken one at a time, so one connection kept open serves them all
        # and spares a pool checkout and return per request. It never waits for a lock
        # (busy timeout 0): the event loop must not.
        if self._inline_conn is None or self._inline_conn.invalidated:
            self._inline_conn = self.engine.connect()
            _set_busy_timeout(self._inline_conn, 0)
        with self._inline_conn.begin():
            return work(self._inline_conn)

    def _run(self, work: Callable[[Connection], T]) -> T:
        with self.engine.begin() as conn:
            return work(conn)

    async def aclose(self) -> None:
        self.close()
        await self._close_kept()
        if self._async_engine is not None:
            await self._async_engine.dispose()

    def close(self) -> None:
        if self._inline_conn is not None:
            if not self._inline_conn.invalidated:
                # Back in the pool, it serves threads, which may wait for the lock.
                _set_busy_timeout(self._inline_conn, SQLITE_BUSY_SECONDS)
            self._inline_conn.close()
            self._inline_conn = None

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session in a transaction: committed if the block succeeds, else rolled back."""
        with self.sessions() as session, session.begin():
            yield session


def _autocommitted(conn: Connection, work: Callable[[Connection], T]) -> T:
    try:
        return work(conn)
    finally:
        # Ends SQLAlchemy's own transaction; the database has none to end (autocommit).
        conn.rollback()


def _transaction(conn: Connection, work: Callable[[Connection], T]) -> T:
    with conn.begin():
        return work(conn)


def _set_busy_timeout(conn: Connection, seconds: int) -> None:
    # On the driver's connection: through SQLAlchemy, a statement would begin a transaction.
    driver = conn.connection.driver_connection
    assert driver is not None
    driver.execute(f"PRAGMA busy_timeout={seconds * 1000}")


def _is_busy(exc: OperationalError) -> bool:
    """Whether SQLite refused because another connection holds the lock it needs."""
    code = getattr(exc.orig, "sqlite_errorcode", None)
    if isinstance(code, int):  # extended codes (SQLITE_BUSY_SNAPSHOT...) keep it in the low byte
        return code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
    return "database is locked" in str(exc.orig)


def _alembic_config(engine: Engine) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the database schema to the newest migration (or to ``revision``)."""
    from alembic import command

    command.upgrade(_alembic_config(engine), revision)


# Any constant both replicas agree on: the key of PostgreSQL's advisory lock for migrations.
MIGRATION_LOCK_KEY = 0x5348_4950  # "SHIP"


def upgrade_locked(engine: Engine) -> None:
    """Migrate to head while holding a lock every replica takes, so that replicas (and
    `init --migrate-only` run twice at once) starting together never race on DDL.

    PostgreSQL: a session advisory lock. SQLite: an exclusive flock on a file beside the
    database (SQLite files are local, so every replica is on this host).
    """
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": MIGRATION_LOCK_KEY})
            try:
                upgrade(engine)
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": MIGRATION_LOCK_KEY})
                conn.commit()
        return
    path = sqlite_path(str(engine.url))
    if path is None:
        upgrade(engine)
        return
    import fcntl

    lock = path.with_name(path.name + ".migrate-lock")
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        upgrade(engine)
    finally:
        os.close(fd)


def lock_for_init(session: Session) -> None:
    """Within init's transaction: one init at a time decides whether tokens are minted."""
    # SQLite transactions here begin IMMEDIATE, which already serialises writers.
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": MIGRATION_LOCK_KEY + 1})


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def check_initialised(engine: Engine) -> None:
    """Refuse to serve a database no admin could ever use: init has not minted a token."""
    with engine.connect() as conn:
        admins = conn.execute(text("SELECT count(*) FROM tokens WHERE kind = 'admin'")).scalar()
    if not admins:
        raise FrontendError(
            "the frontend database has no admin token; run `shipyard frontend init` first"
        )


def check_current(engine: Engine) -> None:
    """Refuse to serve a database that `shipyard frontend init` has not prepared."""
    try:
        tables = set(inspect(engine).get_table_names())
    except Exception as exc:  # each driver (sqlite3, psycopg) raises errors of its own
        raise FrontendError(f"cannot open the frontend database: {exc}") from exc
    if "hosts" not in tables:
        raise FrontendError(
            "the frontend database has no tables; run `shipyard frontend init` first"
        )
