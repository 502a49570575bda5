"""Identity signatures, per-region certificates, tokens at rest."""

from __future__ import annotations

from pathlib import Path

import pytest
from frontloop import Signer
from sqlalchemy import select

from shipyard.errors import UsageError
from shipyard.frontend.core.config import IdentityCert
from shipyard.frontend.core.security import IdentityRefused, load_certificates, verify_identity
from shipyard.frontend.models import Token
from shipyard.frontend.server import read_cert

DOC = {"instanceId": "i-1", "region": "eu-west-1", "accountId": "123456789012"}


@pytest.mark.parametrize(
    ("cert_region", "accepted"),
    [(None, True), ("eu-west-1", True), ("us-east-1", False)],
)
def test_certificates_can_be_bound_to_a_region(
    signer: Signer, cert_region: str | None, accepted: bool
) -> None:
    keys = load_certificates([IdentityCert(signer.cert_pem, cert_region)])
    document, signature = signer.sign(DOC)
    if accepted:
        assert verify_identity(document, signature, keys)["instanceId"] == "i-1"
    else:
        with pytest.raises(IdentityRefused):
            verify_identity(document, signature, keys)


def test_any_of_several_certificates_may_sign(signer: Signer, stranger: Signer) -> None:
    keys = load_certificates([IdentityCert(stranger.cert_pem), IdentityCert(signer.cert_pem)])
    document, signature = signer.sign(DOC)
    assert verify_identity(document, signature, keys)["accountId"] == "123456789012"
    with pytest.raises(IdentityRefused, match="no identity certificates"):
        verify_identity(document, signature, [])


def test_read_cert_forms(signer: Signer, tmp_path: Path) -> None:
    pem = tmp_path / "cert.pem"
    pem.write_bytes(signer.cert_pem)
    assert read_cert(str(pem)).region is None
    assert read_cert(f"us-east-1={pem}").region == "us-east-1"
    (tmp_path / "junk").write_text("hello")
    with pytest.raises(UsageError, match="is not a PEM certificate"):
        read_cert(str(tmp_path / "junk"))
    with pytest.raises(UsageError, match="cannot read identity certificate"):
        read_cert(str(tmp_path / "missing.pem"))


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_tokens_are_stored_only_as_digests(frontend) -> None:  # type: ignore[no-untyped-def]
    _, host_token = frontend.joined("i-1")
    with frontend.engine.connect() as conn:
        stored = " ".join(d for (d,) in conn.execute(select(Token.digest)))
    for token in (frontend.admin_token, frontend.join_token, host_token):
        assert token not in stored
        assert token.split("_", 1)[1] not in stored
