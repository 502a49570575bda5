"""Another process holding SQLite's write lock: the frontend stays responsive and says busy."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
from frontloop import Frontend

pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


@contextmanager
def write_lock_held(db_url: str) -> Iterator[None]:
    """SQLite's write lock, held by a connection of our own until the block ends."""
    locker = sqlite3.connect(db_url.removeprefix("sqlite:///"), isolation_level=None)
    locker.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        locker.rollback()
        locker.close()


def test_a_held_write_lock_stalls_neither_healthz_nor_the_loop(
    frontend: Frontend, db_url: str
) -> None:
    answers: list[httpx.Response] = []
    joined = threading.Event()

    def join() -> None:
        answers.append(frontend.join("i-locked"))
        joined.set()

    with write_lock_held(db_url):
        writer = threading.Thread(target=join)
        writer.start()
        joined.wait(0.5)  # let the join reach the lock (it can only fail, not finish, here)
        health = httpx.get(f"{frontend.url}/healthz", timeout=60)
        assert health.status_code == 200
        # Answered while the join still waits for the lock: the event loop did not wait.
        assert not joined.wait(1.0)
        writer.join(timeout=60)
    (busy,) = answers
    assert busy.status_code == 503 and busy.headers["Retry-After"] == "1"
    assert busy.json()["detail"] == "the database is busy; retry shortly"
    assert frontend.join("i-locked").status_code == 200  # the lock is gone: it works again
