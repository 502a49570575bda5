"""Secrets kept secret: sealed at rest, masked in failing output, private files, clean output."""

from __future__ import annotations

import stat
from datetime import timedelta
from pathlib import Path

import pytest
from frontloop import Frontend
from sqlalchemy import select

from shipyard.cli.main import main
from shipyard.frontend.core import db
from shipyard.frontend.crud import joining
from shipyard.frontend.models import Attribute, Host, Token, utcnow

SECRET = "hunter2-Sup3r-secret"


def shadow(frontend: Frontend, name: str, key: str, value: str) -> None:
    frontend.http.put(
        f"/api/v1/hosts/{name}/attributes/{key}",
        json={"value": value, "shadow": True},
        headers=frontend.admin(),
    ).raise_for_status()


def test_shadow_values_are_sealed_at_rest_and_open_only_for_their_host(
    frontend: Frontend,
) -> None:
    name, token = frontend.joined("i-1")
    shadow(frontend, name, "db_password", SECRET)
    with frontend.engine.connect() as conn:
        stored = conn.scalars(select(Attribute.value)).all()
    assert SECRET not in " ".join(stored)
    admin_view = frontend.http.get(f"/api/v1/hosts/{name}/profile", headers=frontend.admin())
    assert SECRET not in admin_view.text
    own = frontend.http.get("/api/v1/self/profile", headers={"Authorization": f"Bearer {token}"})
    assert own.json()["attributes"]["db_password"] == SECRET
    assert own.json()["shadow"] == ["db_password"]


def test_a_frontend_without_a_key_refuses_shadow_values(frontend: Frontend) -> None:
    from shipyard.frontend.api.app import create_app
    from shipyard.frontend.core.config import FrontendConfig
    from shipyard.frontend.server import background

    name, _ = frontend.joined("i-1")
    before = frontend.snapshot()
    with background(create_app(FrontendConfig(db_url=str(frontend.engine.url)))) as url:
        import httpx

        response = httpx.put(
            f"{url}/api/v1/hosts/{name}/attributes/pw",
            json={"value": SECRET, "shadow": True},
            headers=frontend.admin(),
        )
    assert response.status_code == 409
    assert "no secret key" in response.json()["detail"]
    assert frontend.snapshot() == before


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_secret_never_shows_in_a_failing_steps_message_or_stack_list_host(
    frontend: Frontend, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    name, token = frontend.joined("i-1")
    shadow(frontend, name, "db_password", SECRET)
    shadow(frontend, name, "short", SECRET[:7])
    auth = {"Authorization": f"Bearer {token}"}
    frontend.http.get("/api/v1/self/profile", headers=auth).raise_for_status()
    frontend.http.post(
        "/api/v1/self/status",
        json={
            "state": "failed",
            "step": "script db",
            # An escape sequence that would clear the admin's screen and retitle it.
            "message": f"script db exited\x1b[2J\x1b]0;pwned\x07 with status 1 ({SECRET})",
            "output_tail": f"psql: auth failed for {SECRET}",
        },
        headers=auth,
    ).raise_for_status()
    with frontend.engine.connect() as conn:
        message = conn.scalar(select(Host.message).where(Host.name == name))
    assert message is not None and SECRET not in message and SECRET[:7] not in message
    assert "********" in message

    monkeypatch.setenv("SHIPYARD_FRONTEND_URL", frontend.url)
    monkeypatch.setenv("SHIPYARD_ADMIN_TOKEN", frontend.admin_token)
    for form in ([], ["output-format=json"]):
        assert main(["stack", "list", "host", *form]) == 0
        out, _ = capsys.readouterr()
        assert SECRET not in out
        assert "\x1b" not in out and "\x07" not in out
    assert "with status 1" in out


def test_the_sqlite_database_and_its_wal_are_private(tmp_path: Path) -> None:
    from shipyard.frontend import setup

    path = tmp_path / "fe.db"
    engine = db.make_engine(f"sqlite:///{path}")
    setup.init(engine)
    with engine.connect() as conn:
        conn.exec_driver_sql("SELECT 1")
        files = [p for p in tmp_path.iterdir() if p.name.startswith("fe.db")]
        assert {p.name for p in files} >= {"fe.db", "fe.db-wal", "fe.db-shm"}
        for p in files:
            assert stat.S_IMODE(p.stat().st_mode) == 0o600, p
    engine.dispose()


def test_expired_and_revoked_host_tokens_are_purged(frontend: Frontend) -> None:
    _, old = frontend.joined("i-1")
    frontend.joined("i-1", token=old)  # revokes the first
    with frontend.engine.begin() as conn:
        purged = joining.purge_host_tokens(conn, utcnow() + timedelta(seconds=1))
        kinds = conn.execute(select(Token.kind, Token.revoked_at)).all()
    assert purged == 1
    assert sorted(k for k, _ in kinds) == ["admin", "host", "join"]
    assert all(r is None for _, r in kinds)
    with frontend.engine.begin() as conn:
        later = utcnow() + timedelta(hours=2)
        assert joining.purge_host_tokens(conn, later) == 1
