"""Engines, sessions and migrations: SQLite in WAL mode by default, PostgreSQL by URL."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import anyio.to_thread
from sqlalchemy import Connection, Engine, create_engine, event, inspect
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


# Connections one frontend process keeps to PostgreSQL; replicas multiply it.
PG_CONNECTIONS = 20


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # Let SQLAlchemy's "begin" event issue BEGIN itself (see _sqlite_begin).
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    # WAL with NORMAL is durable across application crashes, which is what a host DB needs.
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=10000")
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
    from sqlalchemy.exc import OperationalError

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
        engine = create_engine(
            url,
            pool_size=PG_CONNECTIONS,
            max_overflow=0,
            pool_timeout=120,
            pool_pre_ping=True,
            connect_args={"connect_timeout": PG_CONNECT_TIMEOUT},
        )
        _check_reachable(engine)
        return engine
    raise FrontendError(f"database URL {url!r} is neither sqlite:/// nor postgresql://")


def session_factory(engine: Engine) -> sessionmaker[Any]:
    return sessionmaker(engine, expire_on_commit=False)


class Database:
    """Sessions over one engine, and the queue SQLite writers wait in."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.sessions = session_factory(engine)
        self.inline = is_sqlite(engine)
        self._inline_conn: Connection | None = None
        # Requests wait for a turn in the event loop, not in worker threads or the
        # connection pool: SQLite has one writer anyway (queueing is far cheaper than
        # polling its busy handler), and PostgreSQL has as many turns as connections.
        self.turns = asyncio.Semaphore(1 if self.inline else PG_CONNECTIONS)

    async def run(self, work: Callable[[Connection], T]) -> T:
        """Run ``work`` on a connection in one transaction, once it is our turn.

        On SQLite the work runs in the event loop itself: a host's request is a few
        indexed statements in a WAL database, well under a millisecond, and handing it
        to a worker thread and back cost more than the work (and the GIL ping-pong
        between the two threads more still). PostgreSQL work goes to a worker thread,
        as it waits on the network.
        """
        async with self.turns:
            if self.inline:
                return self._run_inline(work)
            return await anyio.to_thread.run_sync(self._run, work)

    def _run_inline(self, work: Callable[[Connection], T]) -> T:
        # Turns are taken one at a time, so one connection kept open serves them all
        # and spares a pool checkout and return per request.
        if self._inline_conn is None or self._inline_conn.invalidated:
            self._inline_conn = self.engine.connect()
        with self._inline_conn.begin():
            return work(self._inline_conn)

    def _run(self, work: Callable[[Connection], T]) -> T:
        with self.engine.begin() as conn:
            return work(conn)

    def close(self) -> None:
        if self._inline_conn is not None:
            self._inline_conn.close()
            self._inline_conn = None

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session in a transaction: committed if the block succeeds, else rolled back."""
        with self.sessions() as session, session.begin():
            yield session


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


def check_current(engine: Engine) -> None:
    """Refuse to serve a database that `shipyard frontend init` has not prepared."""
    try:
        tables = set(inspect(engine).get_table_names())
    except Exception as exc:
        raise FrontendError(f"cannot open the frontend database: {exc}") from exc
    if "hosts" not in tables:
        raise FrontendError(
            "the frontend database has no tables; run `shipyard frontend init` first"
        )
