"""Session cookies: only the server's own, unaltered and unexpired, are believed."""

from __future__ import annotations

import pytest

from shipyard.web.pages import safe_next
from shipyard.web.session import LIFETIME, SessionSigner

NOW = 1_800_000_000.0


def test_a_signed_session_round_trips_and_carries_no_secret() -> None:
    signer = SessionSigner.derived("the-secret", "purpose")
    session = signer.fresh(subject="7", now=NOW)
    cookie = signer.dump(session)
    assert signer.load(cookie, now=NOW + 1) == session
    assert "the-secret" not in cookie
    assert signer.csrf_ok(session, signer.csrf(session))


@pytest.mark.parametrize(
    "tamper",
    [
        lambda c: c[:-2] + ("AA" if not c.endswith("AA") else "BB"),  # the signature
        lambda c: "x" + c,  # the payload
        lambda c: c.replace(".", ""),
        lambda c: c + "." + c,
        lambda c: "",
    ],
)
def test_an_altered_cookie_is_no_session(tamper: object) -> None:
    signer = SessionSigner.derived("the-secret", "purpose")
    cookie = signer.dump(signer.fresh(subject="7", now=NOW))
    assert signer.load(tamper(cookie), now=NOW) is None  # type: ignore[operator]


def test_another_key_or_purpose_or_an_old_cookie_is_no_session() -> None:
    signer = SessionSigner.derived("the-secret", "frontend")
    cookie = signer.dump(signer.fresh(subject="7", now=NOW))
    assert SessionSigner.derived("other-secret", "frontend").load(cookie, now=NOW) is None
    assert SessionSigner.derived("the-secret", "catalog").load(cookie, now=NOW) is None
    assert SessionSigner.ephemeral().load(cookie, now=NOW) is None
    assert signer.load(cookie, now=NOW + LIFETIME + 1) is None


def test_csrf_tokens_belong_to_one_session() -> None:
    signer = SessionSigner.ephemeral()
    mine, theirs = signer.fresh(now=NOW), signer.fresh(now=NOW)
    assert not signer.csrf_ok(mine, signer.csrf(theirs))
    assert not signer.csrf_ok(mine, "")
    assert not signer.csrf_ok(None, signer.csrf(mine))


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/ui/tokens", "/ui/tokens"),
        ("/ui/?state=failed", "/ui/?state=failed"),
        ("https://evil.example/ui/", "/ui/"),
        ("//evil.example/ui/", "/ui/"),
        ("/api/v1/hosts", "/ui/"),
        ("", "/ui/"),
        (None, "/ui/"),
    ],
)
def test_after_login_only_a_dashboard_page_is_a_destination(
    target: str | None, expected: str
) -> None:
    assert safe_next(target) == expected
