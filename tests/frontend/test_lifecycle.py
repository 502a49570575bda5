"""A host's life: profile sent, installing, installed (token revoked), online; or failed."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from frontloop import ACCOUNT, Frontend, Signer
from sqlalchemy import Engine, select, update

from shipyard.frontend import setup
from shipyard.frontend.api.app import create_app
from shipyard.frontend.core import db
from shipyard.frontend.core.config import FrontendConfig
from shipyard.frontend.crud import hosts, joining
from shipyard.frontend.models import Host, Token, utcnow
from shipyard.frontend.server import background


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def status(
    frontend: Frontend, token: str, state: str, **extra: str
) -> tuple[int, dict[str, object]]:
    r = frontend.http.post(
        "/api/v1/self/status", json={"state": state, **extra}, headers=bearer(token)
    )
    return r.status_code, r.json()


def host(frontend: Frontend, name: str) -> dict[str, object]:
    r = frontend.http.get(f"/api/v1/hosts/{name}", headers=frontend.admin())
    assert r.status_code == 200, r.text
    doc: dict[str, object] = r.json()
    return doc


def test_states_move_forward_with_times(frontend: Frontend) -> None:
    name, token = frontend.joined("i-1")
    assert host(frontend, name)["state"] == "registered"
    assert frontend.http.get("/api/v1/self/profile", headers=bearer(token)).status_code == 200
    assert host(frontend, name)["state"] == "profile-sent"
    assert status(frontend, token, "installing")[0] == 200
    first = host(frontend, name)["transitions"]
    # A repeated report is accepted and changes nothing.
    assert status(frontend, token, "installing")[0] == 200
    assert host(frontend, name)["transitions"] == first
    code, doc = status(frontend, token, "installed")
    assert (code, doc["state"]) == (200, "installed")
    assert set(doc["transitions"]) == {"registered", "profile-sent", "installing", "installed"}


def test_installed_host_token_is_revoked_and_a_new_boot_goes_online(
    frontend: Frontend, signer: Signer
) -> None:
    launched = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    document, signature = signer.sign(
        {"instanceId": "i-1", "accountId": ACCOUNT, "region": "us-east-1", "pendingTime": launched}
    )
    proof = {"identity_document": document, "identity_signature": signature, "token": ""}
    first = frontend.join("i-1", **proof).json()
    name, token = first["host"]["name"], first["host_token"]
    status(frontend, token, "installing")
    status(frontend, token, "installed")
    assert status(frontend, token, "online")[0] == 403
    # A join token no longer joins as it; its identity document with its nonce does.
    assert frontend.join("i-1").status_code == 409
    again = frontend.join("i-1", nonce=first["nonce"], **proof).json()
    assert again["host"]["name"] == name
    code, doc = status(frontend, again["host_token"], "online")
    assert (code, doc["state"]) == (200, "online")


def test_an_installed_report_whose_revoke_was_lost_revokes_when_repeated(
    frontend: Frontend,
) -> None:
    # The move to installed and the revoke are two statements: when the second never ran
    # (the database went away in between), the host's retried report must still revoke.
    name, token = frontend.joined("i-1")
    status(frontend, token, "installing")
    status(frontend, token, "installed")
    with frontend.engine.begin() as conn:
        conn.execute(update(Token).where(Token.kind == "host").values(revoked_at=None))
    code, doc = status(frontend, token, "installed")
    assert (code, doc["state"], doc["name"]) == (200, "installed", name)
    assert status(frontend, token, "online")[0] == 403


def test_an_installed_report_on_a_host_changed_meanwhile_revokes_nothing(
    frontend: Frontend,
) -> None:
    _name, token = frontend.joined("i-1")
    status(frontend, token, "installing")
    with frontend.engine.connect() as conn:
        read = joining.host_by_token(conn, token, utcnow())
        conn.rollback()
        status(frontend, token, "failed", message="disk full")  # a change after the read
        with pytest.raises(joining.Raced):
            joining.report(conn, read, "installed", "done", utcnow())
        conn.commit()
    # The move and the revoke stand or fall together: the host's token still works.
    assert status(frontend, token, "failed", message="disk full")[0] == 200


def test_failure_keeps_the_output_tail(frontend: Frontend) -> None:
    name, token = frontend.joined("i-1")
    code, doc = status(
        frontend,
        token,
        "failed",
        step="packages",
        message="apt-get install exited with status 100",
        output_tail="E: Unable to locate package nosuch",
    )
    assert code == 200
    assert doc["state"] == "failed"
    assert "Unable to locate package nosuch" in str(host(frontend, name)["message"])


@pytest.mark.parametrize(
    ("reports", "refused"),
    [
        (["installing", "installed"], "installing"),
        (["installing", "installed"], "failed"),
        (["installing"], "online"),
        (["failed"], "installed"),
    ],
)
def test_reports_out_of_order_are_refused(
    frontend: Frontend, reports: list[str], refused: str
) -> None:
    _, token = frontend.joined("i-1")
    for state in reports:
        assert status(frontend, token, state)[0] == 200
    before = frontend.snapshot()
    # An installed host's token is revoked: any report with it is refused outright.
    assert status(frontend, token, refused)[0] == (403 if reports[-1] == "installed" else 409)
    assert frontend.snapshot() == before


def test_host_tokens_open_only_their_own_doors(frontend: Frontend) -> None:
    _, token = frontend.joined("i-1")
    second, _ = frontend.joined("i-2")
    before = frontend.snapshot()
    # A host token is not an admin token: no reading or changing another host.
    assert frontend.http.get(f"/api/v1/hosts/{second}", headers=bearer(token)).status_code == 403
    assert (
        frontend.http.put(
            f"/api/v1/hosts/{second}/attributes/x", json={"value": "y"}, headers=bearer(token)
        ).status_code
        == 403
    )
    # And the admin token is not a host token.
    assert frontend.http.get("/api/v1/self/profile", headers=frontend.admin()).status_code == 403
    assert frontend.http.get("/api/v1/self/profile").status_code == 401
    assert frontend.snapshot() == before


def test_a_host_stuck_past_the_timeout_is_marked_failed(frontend: Frontend) -> None:
    name, token = frontend.joined("i-1")
    status(frontend, token, "installing")
    done, done_token = frontend.joined("i-2")
    status(frontend, done_token, "installing")
    status(frontend, done_token, "installed")
    with db.session_factory(frontend.engine)() as session, session.begin():
        swept = hosts.sweep(session, timeout=600, now=utcnow() + timedelta(seconds=601))
    assert swept == [name]
    stuck = host(frontend, name)
    assert stuck["state"] == "failed"
    assert "no progress" in str(stuck["message"])
    assert host(frontend, done)["state"] == "installed"


def test_the_background_sweeper_fails_stuck_hosts_without_anyone_reading(
    db_url: str,
) -> None:
    engine = db.make_engine(db_url)
    made = setup.init(engine)
    settings = FrontendConfig(db_url=db_url, install_timeout=1, sweep_interval=0.2)
    with (
        background(create_app(settings, engine=engine)) as url,
        httpx.Client(base_url=url, timeout=30) as http,
    ):
        joined = http.post(
            "/api/v1/join", json={"instance_id": "i-stuck"}, headers=bearer(made["join_token"])
        )
        assert joined.status_code == 200, joined.text
        name = joined.json()["host"]["name"]
        deadline = time.monotonic() + 20
        while _state_in_db(engine, name) != "failed":
            assert time.monotonic() < deadline, "the sweeper never marked the host failed"
            time.sleep(0.1)
    engine.dispose()


def _state_in_db(engine: Engine, name: str) -> str:
    with engine.connect() as conn:
        return str(conn.execute(select(Host.state).where(Host.name == name)).scalar_one())


def test_a_report_on_a_host_that_changed_since_it_was_read_is_not_applied(
    frontend: Frontend,
) -> None:
    # A report is read, then written without a transaction around both (on PostgreSQL):
    # the sweep marking the host failed in between must win, and the report be redone.
    name, token = frontend.joined("i-1")
    with frontend.engine.begin() as conn:
        read = joining.host_by_token(conn, token, utcnow())
    with db.session_factory(frontend.engine)() as session, session.begin():
        assert hosts.sweep(session, timeout=600, now=utcnow() + timedelta(seconds=601)) == [name]
    with frontend.engine.begin() as conn, pytest.raises(joining.Raced):
        joining.report(conn, read, "installing", "packages", utcnow())
    assert host(frontend, name)["state"] == "failed"
    code, body = status(frontend, token, "installing")
    assert code == 409 and "failed" in str(body["detail"])
