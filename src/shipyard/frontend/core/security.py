"""Tokens (random, stored as SHA-256 digests) and instance-identity document signatures."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from shipyard.frontend.core.config import FrontendConfig, IdentityCert

if TYPE_CHECKING:
    from shipyard.frontend.schemas.hosts import JoinRequest

# Seconds a document's pendingTime may lie ahead of this clock.
CLOCK_SKEW = 300
TOKEN_PREFIX = {"admin": "sya_", "join": "syj_", "host": "syh_"}


def new_token(kind: str) -> str:
    """A fresh token; the prefix tells a reader which kind it is."""
    return TOKEN_PREFIX[kind] + secrets.token_urlsafe(32)


def check_given_token(kind: str, plain: str, where: str) -> str:
    """A token given to `init` (a file, the environment): its kind's prefix and 256 bits."""
    from shipyard.errors import UsageError

    plain = plain.strip()
    prefix = TOKEN_PREFIX[kind]
    body = plain.removeprefix(prefix)
    if (
        not plain.startswith(prefix)
        or len(body) < 43
        or not body.replace("-", "").replace("_", "").isalnum()
    ):
        article = "an" if kind[0] in "aeiou" else "a"
        raise UsageError(
            f"{where} is not {article} {kind} token: it must be {prefix} and at least 43 "
            "URL-safe characters (`shipyard frontend token create` prints one)"
        )
    return plain


def digest(token: str) -> str:
    """What the database keeps: tokens are 256-bit random, so one SHA-256 is enough."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def same_digest(stored: str, token: str) -> bool:
    return hmac.compare_digest(stored, digest(token))


class IdentityRefused(Exception):
    """The identity document is unsigned, forged, altered or from an unknown signer."""


def load_certificates(pems: Iterable[IdentityCert]) -> list[tuple[Any, str | None]]:
    """Parse configured certificates once; returns (public key, region or None)."""
    from cryptography import x509

    keys: list[tuple[Any, str | None]] = []
    for cert in pems:
        keys.append((x509.load_pem_x509_certificate(cert.pem).public_key(), cert.region))
    return keys


def verify_identity(
    document: str, signature: str, keys: list[tuple[Any, str | None]]
) -> dict[str, Any]:
    """Return the parsed document if ``signature`` (base64 RSA SHA-256) matches one key."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    if not keys:
        raise IdentityRefused("this frontend has no identity certificates configured")
    try:
        raw = base64.b64decode("".join(signature.split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise IdentityRefused("the identity signature is not base64") from exc
    try:
        doc = json.loads(document)
    except ValueError as exc:
        raise IdentityRefused("the identity document is not JSON") from exc
    if not isinstance(doc, dict):
        raise IdentityRefused("the identity document is not a JSON object")
    data = document.encode()
    for key, region in keys:
        if region is not None and doc.get("region") != region:
            continue
        if not isinstance(key, rsa.RSAPublicKey):
            continue
        try:
            key.verify(raw, data, padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            continue
        return doc
    raise IdentityRefused("the identity document's signature does not verify")


def check_identity(
    doc: dict[str, Any], req: JoinRequest, settings: FrontendConfig, now: datetime
) -> str:
    """Refuse a verified document from the wrong account, instance, place or image.

    Returns why the document is too old for a first join ("" if it is fresh enough): a
    host joining again with its nonce may show its launch-time document much later.
    """
    if str(doc.get("accountId", "")) not in settings.identity_accounts:
        raise IdentityRefused(
            "the identity document belongs to an account this frontend does not serve"
        )
    if doc.get("instanceId") != req.instance_id:
        raise IdentityRefused("the identity document's instanceId does not match the request")
    claims = {
        "availabilityZone": req.availability_zone,
        "region": req.region,
        "privateIp": req.local_ipv4,
    }
    for field, claimed in claims.items():
        if claimed and str(doc.get(field, "")) != claimed:
            raise IdentityRefused(f"the identity document's {field} does not match the request")
    launched = _pending_time(doc)
    age = (now - launched).total_seconds()
    if age < -CLOCK_SKEW:
        raise IdentityRefused("the identity document's pendingTime is in the future")
    stale = ""
    if age > settings.identity_max_age:
        stale = (
            f"the identity document is {int(age)} s old (pendingTime); a first join "
            f"accepts at most {settings.identity_max_age} s"
        )
    for binding in settings.identity_bindings:
        if binding.appliance != req.appliance:
            continue
        if binding.image_ids and doc.get("imageId") not in binding.image_ids:
            raise IdentityRefused(f"appliance {req.appliance} does not accept this AMI")
        if binding.regions and doc.get("region") not in binding.regions:
            raise IdentityRefused(f"appliance {req.appliance} does not accept this region")
    return stale


def _pending_time(doc: dict[str, Any]) -> datetime:
    raw = doc.get("pendingTime")
    if not isinstance(raw, str):
        raise IdentityRefused("the identity document has no pendingTime")
    try:
        parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise IdentityRefused("the identity document's pendingTime is not a time") from None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed
