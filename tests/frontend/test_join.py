"""Joining: proofs accepted, claims refused, and refusals change nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from frontloop import Frontend, Signer

MAC = "52:54:00:12:34:56"


def identity(instance_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "instanceId": instance_id,
        "accountId": "123456789012",
        "region": "us-east-1",
        "availabilityZone": "us-east-1c",
        "privateIp": "10.0.0.9",
        "imageId": "ami-12345678",
        "pendingTime": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        **extra,
    }


def test_join_token_registers_a_stacki_named_host(frontend: Frontend) -> None:
    name, token = frontend.joined(
        "i-1", availability_zone="us-east-1b", mac=MAC, local_ipv4="10.0.1.1"
    )
    assert name == "backend-1-0"
    assert token.startswith("syh_")
    assert frontend.joined("i-2", availability_zone="us-east-1b")[0] == "backend-1-1"
    assert frontend.joined("i-3")[0] == "backend-0-0"


def test_joining_again_with_its_host_token_returns_the_same_host(frontend: Frontend) -> None:
    first, token = frontend.joined("i-1", mac=MAC)
    # Joining as an existing host takes that host's own token, not the join token.
    again, new_token = frontend.joined("i-1", mac=MAC, token=token)
    assert again == first
    # Only the newest host token stays valid.
    old = frontend.http.get("/api/v1/self/profile", headers={"Authorization": f"Bearer {token}"})
    assert old.status_code == 403
    fresh = frontend.http.get(
        "/api/v1/self/profile", headers={"Authorization": f"Bearer {new_token}"}
    )
    assert fresh.status_code == 200


def test_signed_identity_document_is_proof_enough(frontend: Frontend, signer: Signer) -> None:
    document, signature = signer.sign(identity("i-0abc"))
    response = frontend.join(
        "i-0abc",
        token="",
        region="us-east-1",
        availability_zone="us-east-1c",
        identity_document=document,
        identity_signature=signature,
    )
    assert response.status_code == 200, response.text
    assert response.json()["host"]["name"] == "backend-2-0"


def _forged(signer: Signer, stranger: Signer) -> dict[str, str]:
    document, signature = stranger.sign(identity("i-0abc"))
    return {"identity_document": document, "identity_signature": signature}


def _altered(signer: Signer, stranger: Signer) -> dict[str, str]:
    document, signature = signer.sign(identity("i-0abc"))
    altered = document.replace("123456789012", "999999999999")
    return {"identity_document": altered, "identity_signature": signature}


def _someone_elses(signer: Signer, stranger: Signer) -> dict[str, str]:
    document, signature = signer.sign(identity("i-other"))
    return {"identity_document": document, "identity_signature": signature}


def _garbage_signature(signer: Signer, stranger: Signer) -> dict[str, str]:
    document, _ = signer.sign(identity("i-0abc"))
    return {"identity_document": document, "identity_signature": "not base64 at all!"}


@pytest.mark.parametrize(
    ("case", "status"),
    [
        pytest.param({"token": ""}, 401, id="no-token"),
        pytest.param({"token": "syj_wrong"}, 403, id="wrong-token"),
        pytest.param(_forged, 403, id="forged-document"),
        pytest.param(_altered, 403, id="altered-document"),
        pytest.param(_someone_elses, 403, id="another-instance-document"),
        pytest.param(_garbage_signature, 403, id="garbage-signature"),
        pytest.param({"appliance": "nosuch"}, 404, id="unknown-appliance"),
        pytest.param({"mac": "not-a-mac"}, 422, id="malformed-mac"),
        pytest.param({"surprise": 1}, 422, id="unknown-key"),
        pytest.param({"hostname": "x" * 5000}, 422, id="oversized-field"),
    ],
)
def test_refused_joins_change_nothing(
    frontend: Frontend, signer: Signer, stranger: Signer, case: Any, status: int
) -> None:
    frontend.joined("i-existing")
    before = frontend.snapshot()
    facts = case(signer, stranger) | {"token": ""} if callable(case) else dict(case)
    response = frontend.join("i-0abc", **facts)
    assert response.status_code == status, response.text
    assert "detail" in response.json()
    assert frontend.snapshot() == before


def test_second_claim_on_a_taken_instance_is_refused(frontend: Frontend) -> None:
    frontend.http.post(
        "/api/v1/appliances", json={"name": "compute"}, headers=frontend.admin()
    ).raise_for_status()
    frontend.joined("i-1", mac=MAC)
    before = frontend.snapshot()
    other_appliance = frontend.join("i-1", appliance="compute", mac=MAC)
    other_mac = frontend.join("i-1", mac="52:54:00:ff:ff:ff")
    assert (other_appliance.status_code, other_mac.status_code) == (409, 409)
    assert frontend.snapshot() == before


@pytest.mark.parametrize(
    ("body", "status"),
    [
        pytest.param(b"{not json", 422, id="malformed-json"),
        pytest.param(b"[]", 422, id="not-an-object"),
        pytest.param(
            json.dumps({"instance_id": "i-9", "hostname": "x" * (2 << 20)}).encode(),
            413,
            id="oversized-body",
        ),
    ],
)
def test_malformed_or_oversized_bodies_change_nothing(
    frontend: Frontend, body: bytes, status: int
) -> None:
    before = frontend.snapshot()
    response = frontend.http.post(
        "/api/v1/join",
        content=body,
        headers={
            "Authorization": f"Bearer {frontend.join_token}",
            "Content-Type": "application/json",
        },
    )
    assert response.status_code == status
    assert frontend.snapshot() == before


def test_revoked_join_token_is_refused(frontend: Frontend) -> None:
    from shipyard.frontend import setup

    token_id, token = setup.create_token(frontend.engine, "join", "short-lived")
    assert frontend.join("i-1", token=token).status_code == 200
    setup.revoke_token(frontend.engine, token_id, "join")
    assert frontend.join("i-2", token=token).status_code == 403


def test_a_join_storm_gives_every_host_its_own_rank(frontend: Frontend) -> None:
    from concurrent.futures import ThreadPoolExecutor

    import httpx

    def one(n: int) -> tuple[int, str]:
        with httpx.Client(base_url=frontend.url, timeout=60) as client:
            r = client.post(
                "/api/v1/join",
                json={"instance_id": f"i-storm-{n}", "availability_zone": "us-east-1a"},
                headers={"Authorization": f"Bearer {frontend.join_token}"},
            )
            return r.status_code, r.json()["host"]["name"] if r.status_code == 200 else r.text

    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(one, range(40)))
    assert [code for code, _ in results] == [200] * 40, results
    assert sorted(name for _, name in results) == sorted(f"backend-0-{i}" for i in range(40))
