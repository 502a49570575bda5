"""A real frontend on loopback over SQLite and PostgreSQL, and a signer for identity documents."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from awsloop import aws, moto_url
from frontloop import ACCOUNT, Frontend, Signer, make_signer

from shipyard.frontend import setup
from shipyard.frontend.api.app import create_app
from shipyard.frontend.core import db
from shipyard.frontend.core.config import FrontendConfig, IdentityCert
from shipyard.frontend.core.sealing import new_key
from shipyard.frontend.server import background
from shipyard.vm.net import free_port

__all__ = ["Frontend", "Signer", "aws", "free_port", "make_signer", "moto_url"]


def _pg_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    for base in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (base / name).exists():
            return str(base / name)
    return None


def _as_postgres(argv: list[str]) -> list[str]:
    # initdb refuses to run as root; the server runs as the postgres system user then.
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv


@pytest.fixture(scope="session")
def postgres() -> Iterator[str]:
    """A PostgreSQL server on a free 127.0.0.1 port, its socket and data in a temp dir."""
    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    if not initdb or not pg_ctl:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
    base = Path(tempfile.mkdtemp(prefix="shipyard-pg-"))
    if os.geteuid() == 0:
        shutil.chown(base, "postgres", "postgres")
    data, port = base / "data", free_port()
    subprocess.run(
        _as_postgres(
            [initdb, "-D", str(data), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync"]
        ),
        check=True,
        capture_output=True,
    )
    options = (
        f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off "
        "-c synchronous_commit=off -c max_connections=300"
    )
    subprocess.run(
        _as_postgres(
            [
                pg_ctl,
                "-D",
                str(data),
                "-l",
                str(base / "log"),
                "-w",
                "-t",
                "60",
                "-o",
                options,
                "start",
            ]
        ),
        check=True,
        capture_output=True,
    )
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}"
    finally:
        subprocess.run(
            _as_postgres([pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop"]),
            check=False,
            capture_output=True,
        )
        shutil.rmtree(base, ignore_errors=True)


def _fresh_database(server: str) -> str:
    import psycopg

    name = "t" + uuid.uuid4().hex[:12]
    with psycopg.connect(server + "/postgres", autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return f"{server}/{name}"


def _drop_database(url: str) -> None:
    import psycopg

    server, _, name = url.rpartition("/")
    with psycopg.connect(server + "/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database: a SQLite file, or a new database on the test PostgreSQL server."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'frontend.db'}"
        return
    url = _fresh_database(request.getfixturevalue("postgres"))
    yield url
    _drop_database(url)


@pytest.fixture
def pg_url(postgres: str) -> Iterator[str]:
    """A new, empty database on the test PostgreSQL server."""
    url = _fresh_database(postgres)
    yield url
    _drop_database(url)


@pytest.fixture(scope="session")
def signer(tmp_path_factory: pytest.TempPathFactory) -> Signer:
    return make_signer(tmp_path_factory.mktemp("identity"))


@pytest.fixture(scope="session")
def stranger(tmp_path_factory: pytest.TempPathFactory) -> Signer:
    """A key the frontend does not trust."""
    return make_signer(tmp_path_factory.mktemp("stranger"))


# The key shadow attributes are sealed with, as `frontend init` would write it.
SECRET_KEY = new_key()


@pytest.fixture
def settings_extra() -> dict[str, Any]:
    """FrontendConfig a test module changes for its frontend (override this fixture)."""
    return {}


@pytest.fixture
def frontend(db_url: str, signer: Signer, settings_extra: dict[str, Any]) -> Iterator[Frontend]:
    """An initialised frontend served by uvicorn on 127.0.0.1, trusting ``signer``."""
    engine = db.make_engine(db_url)
    made = setup.init(engine)
    settings = FrontendConfig(
        db_url=db_url,
        identity_certs=(IdentityCert(signer.cert_pem),),
        identity_accounts=(ACCOUNT,),
        secret_key=SECRET_KEY,
        **settings_extra,
    )
    with (
        background(create_app(settings, engine=engine)) as url,
        httpx.Client(base_url=url, timeout=30) as http,
    ):
        yield Frontend(url, made["admin_token"], made["join_token"], engine, http)
    engine.dispose()
