"""Several `frontend serve` processes on one PostgreSQL: migrations, naming and the sweep."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Connection, Engine, text

from shipyard.frontend.core import db
from shipyard.frontend.crud import hosts
from shipyard.vm.net import free_port

pytestmark = pytest.mark.postgres

JOINS = 500


def shipyard(*args: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHIPYARD_")}
    return subprocess.Popen(
        [sys.executable, "-m", "shipyard.cli.main", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def test_two_migrations_at_once_on_an_empty_database_both_succeed(pg_url: str) -> None:
    runs = [shipyard("frontend", "init", "--db", pg_url, "--migrate-only", "--json") for _ in "ab"]
    results = [(r.wait(timeout=120), *r.communicate()) for r in runs]
    assert [code for code, _, _ in results] == [0, 0], [err for _, _, err in results]
    revisions = {json.loads(out)["revision"] for _, out, _ in results}
    assert len(revisions) == 1 and None not in revisions


def test_two_inits_at_once_mint_one_admin_token(pg_url: str, tmp_path: Path) -> None:
    runs = [
        shipyard("frontend", "init", "--db", pg_url, "--tls-dir", str(tmp_path / n), "--json")
        for n in "ab"
    ]
    made = [json.loads(r.communicate(timeout=120)[0]) for r in runs]
    assert sorted(m["initialised"] for m in made) == ["already", "now"]
    engine = db.make_engine(pg_url)
    with engine.connect() as conn:
        admins = conn.execute(text("SELECT count(*) FROM tokens WHERE kind = 'admin'")).scalar()
    engine.dispose()
    assert admins == 1


@pytest.fixture
def replicas(pg_url: str, tmp_path: Path) -> Iterator[tuple[list[str], str]]:
    """Two `frontend serve` processes on one database; yields their URLs and a join token."""
    init = shipyard("frontend", "init", "--db", pg_url, "--tls-dir", str(tmp_path), "--json")
    join_token = json.loads(init.communicate(timeout=120)[0])["join_token"]
    ports = [free_port(), free_port()]
    servers = [
        shipyard(
            "frontend",
            "serve",
            "--db",
            pg_url,
            "--listen",
            f"127.0.0.1:{port}",
            "--join-rate-per-token",
            "100000",
            "--join-rate-per-address",
            "100000",
        )
        for port in ports
    ]
    urls = [f"http://127.0.0.1:{port}" for port in ports]
    try:
        for url, server in zip(urls, servers, strict=True):
            deadline = time.monotonic() + 60
            while True:
                assert server.poll() is None, server.communicate()[1]
                try:
                    if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, f"{url} did not start"
                time.sleep(0.2)
        yield urls, join_token
    finally:
        for server in servers:
            server.terminate()
        for server in servers:
            server.wait(timeout=30)


def test_joins_spread_over_two_replicas_get_distinct_hosts_and_names(
    replicas: tuple[list[str], str], pg_url: str
) -> None:
    urls, join_token = replicas
    headers = {"Authorization": f"Bearer {join_token}"}
    clients = [httpx.Client(base_url=url, headers=headers, timeout=60) for url in urls]

    def join(n: int) -> tuple[int, str]:
        response = clients[n % 2].post("/api/v1/join", json={"instance_id": f"i-{n:017x}"})
        return response.status_code, response.json()["host"]["name"] if response.is_success else ""

    with ThreadPoolExecutor(max_workers=16) as pool:
        answers = list(pool.map(join, range(JOINS)))
    for client in clients:
        client.close()
    assert [code for code, _ in answers] == [200] * JOINS
    names = [name for _, name in answers]
    assert len(set(names)) == JOINS
    engine = db.make_engine(pg_url)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT count(*), count(DISTINCT name) FROM hosts")).one()
    engine.dispose()
    assert tuple(rows) == (JOINS, JOINS)


def test_the_sweep_runs_in_one_replica_at_a_time(pg_url: str) -> None:
    engine = db.make_engine(pg_url)
    db.upgrade_locked(engine)
    with engine.begin() as first, engine.begin() as second:
        assert hosts._sweep_turn(first)
        assert not hosts._sweep_turn(second)  # the other replica skips this round
        assert hosts.sweep(second, timeout=1) == []
    engine.dispose()


def _with_a_slot(engine: Engine, instance_id: str | None) -> int:
    """An initialised database with backend-0-7 expected (pinned to ``instance_id``);
    returns the appliance's id."""
    from shipyard.frontend import setup

    setup.init(engine)
    with engine.begin() as conn:
        appliance = conn.execute(text("SELECT id FROM appliances WHERE name = 'backend'")).scalar()
        conn.execute(
            text(
                "INSERT INTO hosts (name, appliance_id, rack, rank, instance_id, macs, ips, "
                "state, transitions, message, created_at, updated_at, source_ip) VALUES "
                "('backend-0-7', :a, 0, 7, :i, '[]', '[]', 'expected', '{}', '', now(), now(), '')"
            ),
            {"a": appliance, "i": instance_id},
        )
    return int(appliance)


def _join(conn: Connection, instance: str) -> str:
    from shipyard.frontend.crud import joining
    from shipyard.frontend.models import utcnow
    from shipyard.frontend.schemas.hosts import JoinRequest

    req = JoinRequest(instance_id=instance)
    return joining.register(conn, req, joining.Proof("join"), "", utcnow()).host.name


def test_two_joins_racing_for_one_free_slot_do_not_both_take_it(pg_url: str) -> None:
    engine = db.make_engine(pg_url)
    _with_a_slot(engine, None)
    first, second = engine.connect(), engine.connect()
    pool = ThreadPoolExecutor(1)
    try:
        first.begin()
        assert _join(first, "i-1") == "backend-0-7"
        # The second join waits for the rack's lock, then reads the slot as free from a
        # snapshot older than the first's claim; it must still not take the slot.
        racing = pool.submit(lambda: second.begin() and _join(second, "i-2"))
        time.sleep(0.5)
        assert not racing.done()
        first.commit()
        assert racing.result(timeout=30) == "backend-0-8"
        second.commit()
        with engine.connect() as conn:
            owners = conn.execute(text("SELECT name, instance_id FROM hosts ORDER BY rank")).all()
    finally:
        first.close()
        second.close()
        pool.shutdown(wait=False, cancel_futures=True)
        engine.dispose()
    assert [tuple(row) for row in owners] == [("backend-0-7", "i-1"), ("backend-0-8", "i-2")]


def test_a_launched_instance_joins_while_its_rack_is_locked(pg_url: str) -> None:
    # Only joins that pick a rank or a free slot wait for the rack's lock: a launch storm
    # of pinned hosts, all in one rack, is not handled one join at a time.
    engine = db.make_engine(pg_url)
    appliance = _with_a_slot(engine, "i-9")
    holder, joiner = engine.connect(), engine.connect()
    pool = ThreadPoolExecutor(1)
    try:
        holder.begin()
        holder.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": appliance * 1_000_003})
        pinned = pool.submit(lambda: joiner.begin() and _join(joiner, "i-9"))
        assert pinned.result(timeout=10) == "backend-0-7"
        joiner.commit()
        fresh = pool.submit(lambda: joiner.begin() and _join(joiner, "i-10"))
        time.sleep(0.5)
        assert not fresh.done()  # a new host waits for the rank
        holder.commit()
        assert fresh.result(timeout=30) == "backend-0-8"
        joiner.commit()
    finally:
        holder.close()
        joiner.close()
        pool.shutdown(wait=False, cancel_futures=True)
        engine.dispose()
