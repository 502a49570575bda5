"""The admin API: hosts by hand, appliances, /etc/hosts, and who may call it."""

from __future__ import annotations

import pytest
from frontloop import Frontend
from sqlalchemy.orm import Session


def test_admin_api_needs_the_admin_token(frontend: Frontend) -> None:
    assert frontend.http.get("/api/v1/hosts").status_code == 401
    wrong = {"Authorization": f"Bearer {frontend.join_token}"}
    assert frontend.http.get("/api/v1/hosts", headers=wrong).status_code == 403
    assert frontend.http.get("/api/v1/hosts", headers=frontend.admin()).status_code == 200


def test_hosts_added_by_hand_keep_their_names(frontend: Frontend) -> None:
    body = {
        "name": "backend-0-7",
        "appliance": "backend",
        "rack": 0,
        "rank": 7,
        "ips": ["10.1.0.7"],
    }
    r = frontend.http.post("/api/v1/hosts", json=body, headers=frontend.admin())
    assert r.status_code == 201, r.text
    before = frontend.snapshot()
    again = frontend.http.post("/api/v1/hosts", json=body, headers=frontend.admin())
    same_slot = frontend.http.post(
        "/api/v1/hosts", json={**body, "name": "other"}, headers=frontend.admin()
    )
    assert (again.status_code, same_slot.status_code) == (409, 409)
    assert frontend.snapshot() == before
    # The first machine to join takes the slot added by hand; later ones count on from it.
    assert frontend.joined("i-1")[0] == "backend-0-7"
    assert frontend.joined("i-2")[0] == "backend-0-8"
    report = frontend.http.get("/api/v1/report/hosts", headers=frontend.admin())
    assert "10.1.0.7\tbackend-0-7" in report.text.splitlines()
    assert (
        frontend.http.delete("/api/v1/hosts/backend-0-7", headers=frontend.admin()).status_code
        == 204
    )
    assert (
        frontend.http.get("/api/v1/hosts/backend-0-7", headers=frontend.admin()).status_code == 404
    )


def test_a_slot_pinned_to_an_instance_waits_for_that_instance(frontend: Frontend) -> None:
    body = {"name": "db-main", "appliance": "backend", "instance_id": "i-2"}
    assert (
        frontend.http.post("/api/v1/hosts", json=body, headers=frontend.admin()).status_code == 201
    )
    assert frontend.joined("i-1")[0] == "backend-0-1"
    assert frontend.joined("i-2")[0] == "db-main"


def test_an_appliance_with_hosts_cannot_be_removed(frontend: Frontend) -> None:
    admin = frontend.admin()
    assert (
        frontend.http.post("/api/v1/appliances", json={"name": "login"}, headers=admin).status_code
        == 201
    )
    assert (
        frontend.http.post("/api/v1/appliances", json={"name": "login"}, headers=admin).status_code
        == 409
    )
    frontend.joined("i-1", appliance="login")
    assert frontend.http.delete("/api/v1/appliances/login", headers=admin).status_code == 409
    listing = frontend.http.get("/api/v1/appliances", headers=admin).json()
    assert {a["name"]: a["hosts"] for a in listing} == {"backend": 0, "login": 1}


@pytest.mark.parametrize("name", ["UPPER", "-dash", "a" * 64, "with space"])
def test_bad_names_are_refused(frontend: Frontend, name: str) -> None:
    r = frontend.http.post("/api/v1/appliances", json={"name": name}, headers=frontend.admin())
    assert r.status_code == 422


def test_no_page_loads_scripts_from_a_cdn(frontend: Frontend) -> None:
    # Swagger UI and ReDoc would fetch their scripts from a CDN: blank offline.
    assert frontend.http.get("/docs").status_code == 404
    assert frontend.http.get("/redoc").status_code == 404
    assert "/api/v1/join" in frontend.http.get("/openapi.json").json()["paths"]


def test_an_appliance_name_leaves_room_for_its_host_names(frontend: Frontend) -> None:
    admin = frontend.admin()
    longest = "a" * 50
    r = frontend.http.post("/api/v1/appliances", json={"name": longest}, headers=admin)
    assert r.status_code == 201, r.text
    name, _ = frontend.joined("i-1", appliance=longest, availability_zone="local-1z")
    assert len(name) <= 63
    r = frontend.http.post("/api/v1/appliances", json={"name": "a" * 57}, headers=admin)
    assert r.status_code == 422
    assert "an appliance name has at most 50 characters (this one has 57)" in r.text


def _legacy_appliance(frontend: Frontend, name: str) -> None:
    """An appliance made before names were limited: written straight into the database."""
    from shipyard.frontend.models import Appliance

    with Session(frontend.engine) as session, session.begin():
        session.add(Appliance(name=name, description="", profile={}))


def test_a_host_name_too_long_is_refused_at_join_with_one_sentence(frontend: Frontend) -> None:
    _legacy_appliance(frontend, "b" * 60)
    before = frontend.snapshot()
    r = frontend.join("i-1", appliance="b" * 60)
    assert r.status_code == 422
    assert "would be 64 characters, over the 63 a host name may have" in r.text
    assert frontend.snapshot() == before


def test_an_over_long_host_from_before_can_still_be_removed(frontend: Frontend) -> None:
    if frontend.engine.dialect.name != "sqlite":
        pytest.skip("only SQLite ever stored host names over 63 characters")
    from shipyard.frontend.models import Appliance, Host

    long_name = "c" * 60 + "-0-0"
    with Session(frontend.engine) as session, session.begin():
        appliance = Appliance(name="c" * 60, description="", profile={})
        session.add(appliance)
        session.flush()
        session.add(
            Host(name=long_name, appliance_id=appliance.id, rack=0, rank=0, state="installed")
        )
    admin = frontend.admin()
    assert frontend.http.get(f"/api/v1/hosts/{long_name}", headers=admin).status_code == 200
    assert frontend.http.delete(f"/api/v1/hosts/{long_name}", headers=admin).status_code == 204
    assert frontend.http.get(f"/api/v1/hosts/{long_name}", headers=admin).status_code == 404
