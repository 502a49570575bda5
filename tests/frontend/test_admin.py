"""The admin API: hosts by hand, appliances, /etc/hosts, and who may call it."""

from __future__ import annotations

import pytest
from frontloop import Frontend


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
