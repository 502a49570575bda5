"""Attacks on joining, each refused with the database unchanged (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from frontloop import Frontend, Signer

from shipyard.cli.main import main
from shipyard.frontend import setup
from shipyard.frontend.core.config import IdentityBinding, RateLimit

MAC = "52:54:00:12:34:56"


@pytest.fixture
def settings_extra() -> dict[str, Any]:
    return {
        "identity_bindings": (IdentityBinding("compute", image_ids=("ami-compute",)),),
        "identity_max_age": 600,
    }


def document(signer: Signer, instance_id: str, age: float = 0, **extra: Any) -> dict[str, str]:
    launched = datetime.now(UTC) - timedelta(seconds=age)
    doc, signature = signer.sign(
        {
            "instanceId": instance_id,
            "accountId": "123456789012",
            "region": "us-east-1",
            "availabilityZone": "us-east-1c",
            "imageId": "ami-12345678",
            "pendingTime": launched.strftime("%Y-%m-%dT%H:%M:%SZ"),
            **extra,
        }
    )
    return {"identity_document": doc, "identity_signature": signature, "token": ""}


def refused(frontend: Frontend, status: int, instance_id: str, **facts: Any) -> str:
    before = frontend.snapshot()
    response = frontend.join(instance_id, **facts)
    assert response.status_code == status, response.text
    assert frontend.snapshot() == before
    detail: str = response.json()["detail"]
    return detail


def profile(frontend: Frontend, token: str) -> Any:
    return frontend.http.get("/api/v1/self/profile", headers={"Authorization": f"Bearer {token}"})


def test_a_join_token_cannot_take_over_a_joined_host(frontend: Frontend) -> None:
    _, real = frontend.joined("i-victim", mac=MAC)
    detail = refused(frontend, 409, "i-victim")
    assert "needs its host token" in detail
    refused(frontend, 409, "i-victim", mac=MAC)
    # The real host's token still works.
    assert profile(frontend, real).status_code == 200


def test_a_host_token_joins_only_as_its_own_host(frontend: Frontend) -> None:
    _, mine = frontend.joined("i-mine")
    frontend.joined("i-victim")
    refused(frontend, 403, "i-victim", token=mine)


def test_a_mac_pinned_slot_is_not_claimed_by_its_mac(frontend: Frontend) -> None:
    frontend.http.post(
        "/api/v1/hosts",
        json={"name": "pinned", "macs": [MAC]},
        headers=frontend.admin(),
    ).raise_for_status()
    name, _ = frontend.joined("i-attacker", mac=MAC)
    assert name != "pinned"
    assert frontend.http.get("/api/v1/hosts/pinned", headers=frontend.admin()).json()["state"] == (
        "expected"
    )


def test_a_slot_pinned_to_an_instance_id_is_claimed_once(frontend: Frontend) -> None:
    frontend.http.post(
        "/api/v1/hosts",
        json={"name": "pinned", "instance_id": "i-pinned"},
        headers=frontend.admin(),
    ).raise_for_status()
    assert frontend.joined("i-pinned")[0] == "pinned"
    refused(frontend, 409, "i-pinned")


def installed(frontend: Frontend, instance_id: str) -> str:
    name, token = frontend.joined(instance_id)
    auth = {"Authorization": f"Bearer {token}"}
    assert profile(frontend, token).status_code == 200
    for state in ("installing", "installed"):
        frontend.http.post(
            "/api/v1/self/status", json={"state": state}, headers=auth
        ).raise_for_status()
    return name


def test_an_installed_host_cannot_join_again_until_reset(
    frontend: Frontend, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = installed(frontend, "i-done")
    refused(frontend, 409, "i-done")
    # An admin reset allows exactly one more join.
    monkeypatch.setenv("SHIPYARD_FRONTEND_URL", frontend.url)
    monkeypatch.setenv("SHIPYARD_ADMIN_TOKEN", frontend.admin_token)
    assert main(["stack", "set", "host", "reinstall", name]) == 0
    listed = frontend.http.get(f"/api/v1/hosts/{name}", headers=frontend.admin()).json()
    assert listed["state"] == "expected"
    again, token = frontend.joined("i-done")
    assert again == name
    assert profile(frontend, token).status_code == 200
    refused(frontend, 409, "i-done")


@pytest.mark.parametrize(
    "address",
    ["::::", "0.0.0.0", "127.0.0.1", "224.0.0.1", "1.2.3", "10.0.0.1.5", "::"],
)
def test_forged_or_impossible_addresses_are_refused(frontend: Frontend, address: str) -> None:
    frontend.joined("i-existing")
    refused(frontend, 422, "i-new", local_ipv4=address)


def test_addresses_are_deduplicated_and_the_source_recorded(frontend: Frontend) -> None:
    _, token = frontend.joined("i-1", local_ipv4="10.0.0.5")
    for address in ("10.0.0.6", "10.0.0.5", "fd00:0::1"):
        _, token = frontend.joined("i-1", local_ipv4=address, token=token)
    host = frontend.http.get("/api/v1/hosts", headers=frontend.admin()).json()[0]
    assert host["ips"] == ["fd00::1", "10.0.0.5", "10.0.0.6"]
    assert host["source_ip"] == "127.0.0.1"


def test_a_token_is_refused_past_its_use_count(frontend: Frontend) -> None:
    _, token = setup.create_token(frontend.engine, "join", "two hosts", uses=2)
    frontend.joined("i-1", token=token)
    frontend.joined("i-2", token=token)
    assert "used up" in refused(frontend, 403, "i-3", token=token)


def test_an_expired_token_is_refused(frontend: Frontend) -> None:
    from sqlalchemy import update

    from shipyard.frontend.models import Token

    token_id, token = setup.create_token(frontend.engine, "join", "brief", ttl=3600)
    with frontend.engine.begin() as conn:
        conn.execute(
            update(Token)
            .where(Token.id == token_id)
            .values(expires_at=datetime.now(UTC).replace(tzinfo=None) - timedelta(seconds=1))
        )
    refused(frontend, 403, "i-1", token=token)


def test_a_token_for_one_appliance_joins_no_other(frontend: Frontend) -> None:
    frontend.http.post(
        "/api/v1/appliances", json={"name": "compute"}, headers=frontend.admin()
    ).raise_for_status()
    _, token = setup.create_token(frontend.engine, "join", "compute only", appliance="compute")
    refused(frontend, 403, "i-1", token=token, appliance="backend")
    frontend.joined("i-1", token=token, appliance="compute")


def test_identity_document_from_another_account(frontend: Frontend, signer: Signer) -> None:
    facts = document(signer, "i-0abc", accountId="999999999999")
    assert "account" in refused(frontend, 403, "i-0abc", **facts)


def test_identity_document_for_another_appliance(frontend: Frontend, signer: Signer) -> None:
    frontend.http.post(
        "/api/v1/appliances", json={"name": "compute"}, headers=frontend.admin()
    ).raise_for_status()
    facts = document(signer, "i-0abc")
    assert "AMI" in refused(frontend, 403, "i-0abc", appliance="compute", **facts)
    good = document(signer, "i-0abc", imageId="ami-compute")
    assert frontend.join("i-0abc", appliance="compute", **good).status_code == 200


def test_identity_document_too_old(frontend: Frontend, signer: Signer) -> None:
    facts = document(signer, "i-0abc", age=601)
    assert "old" in refused(frontend, 403, "i-0abc", **facts)


def test_identity_document_replayed_without_the_nonce(frontend: Frontend, signer: Signer) -> None:
    facts = document(signer, "i-0abc")
    first = frontend.join("i-0abc", **facts)
    assert first.status_code == 200
    nonce = first.json()["nonce"]
    assert nonce
    # The same document from another machine, which never saw the nonce.
    assert "nonce" in refused(frontend, 403, "i-0abc", **facts)
    refused(frontend, 403, "i-0abc", nonce="wrong", **facts)
    again = frontend.join("i-0abc", nonce=nonce, **facts)
    assert again.status_code == 200
    assert again.json()["host"]["name"] == first.json()["host"]["name"]


def test_identity_joins_need_a_configured_account(db_url: str, signer: Signer) -> None:
    from shipyard.errors import FrontendError
    from shipyard.frontend.api.app import create_app
    from shipyard.frontend.core.config import FrontendConfig, IdentityCert

    with pytest.raises(FrontendError, match="no account"):
        create_app(FrontendConfig(db_url=db_url, identity_certs=(IdentityCert(signer.cert_pem),)))


class TestRateLimits:
    @pytest.fixture
    def settings_extra(self) -> dict[str, Any]:
        return {
            "join_rate_per_token": RateLimit(3, 60.0),
            "join_rate_per_address": RateLimit(5, 60.0),
        }

    def test_joins_are_limited_per_token_and_per_address(self, frontend: Frontend) -> None:
        for n in range(3):
            frontend.joined(f"i-{n}")
        before = frontend.snapshot()
        limited = frontend.join("i-9")
        assert limited.status_code == 429
        assert 1 <= int(limited.headers["Retry-After"]) <= 60
        _, other = setup.create_token(frontend.engine, "join", "another")
        before = frontend.snapshot()
        frontend.joined("i-10", token=other)
        # The address has now made 5 joins (one refused): a sixth from it is refused.
        assert frontend.join("i-11", token=other).status_code == 429
        assert len(frontend.snapshot()[0]) == len(before[0]) + 1


def test_an_old_document_still_rejoins_with_its_nonce(frontend: Frontend, signer: Signer) -> None:
    first = frontend.join("i-0abc", **document(signer, "i-0abc"))
    nonce = first.json()["nonce"]
    # The same instance much later: its document's pendingTime is still its launch time.
    later = document(signer, "i-0abc", age=86400)
    assert frontend.join("i-0abc", nonce=nonce, **later).status_code == 200
    assert "nonce" in refused(frontend, 403, "i-0abc", **later)


def test_a_failed_host_gets_no_profile_without_joining_again(frontend: Frontend) -> None:
    _, token = frontend.joined("i-1")
    auth = {"Authorization": f"Bearer {token}"}
    frontend.http.post("/api/v1/self/status", json={"state": "failed"}, headers=auth)
    before = frontend.snapshot()
    assert profile(frontend, token).status_code == 409
    assert frontend.snapshot() == before
