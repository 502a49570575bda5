"""Helpers for frontend tests: identity signers and a handle on a running frontend."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine, func, select

from shipyard.frontend.models import Attribute, Host, Token
from shipyard.vm import identity

# The account the test frontends accept identity documents from.
ACCOUNT = "123456789012"


@dataclass
class Signer:
    """Signs instance-identity documents with the local IMDS emulator's own signer."""

    emulator: identity.Signer

    @property
    def cert_pem(self) -> bytes:
        return self.emulator.certificate

    def sign(self, doc: dict[str, Any]) -> tuple[str, str]:
        document = identity.identity_document(doc)
        return document.decode(), self.emulator.sign(document)


def make_signer(key_dir: Path) -> Signer:
    """A fresh key and certificate, made the way the emulator makes its own."""
    return Signer(identity.load_signer(key_dir))


@dataclass
class Frontend:
    url: str
    admin_token: str
    join_token: str
    engine: Engine
    http: httpx.Client

    def admin(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.admin_token}"}

    def join(self, instance_id: str, **facts: Any) -> httpx.Response:
        token = facts.pop("token", self.join_token)
        body = {"instance_id": instance_id, **facts}
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return self.http.post("/api/v1/join", json=body, headers=headers)

    def joined(self, instance_id: str, **facts: Any) -> tuple[str, str]:
        """Join and return (host name, host token)."""
        response = self.join(instance_id, **facts)
        assert response.status_code == 200, response.text
        doc = response.json()
        return doc["host"]["name"], doc["host_token"]

    def snapshot(self) -> tuple[Any, ...]:
        """Everything a refused request must leave alone."""
        with self.engine.connect() as conn:
            hosts = conn.execute(
                select(
                    Host.name,
                    Host.state,
                    Host.instance_id,
                    Host.macs,
                    Host.ips,
                    Host.source_ip,
                    Host.nonce_digest,
                    Host.message,
                    Host.updated_at,
                ).order_by(Host.name)
            ).all()
            tokens = conn.execute(
                select(Token.id, Token.revoked_at, Token.uses_left, Token.expires_at).order_by(
                    Token.id
                )
            ).all()
            attrs = conn.scalar(select(func.count()).select_from(Attribute))
        return tuple(hosts), tuple(tokens), attrs
