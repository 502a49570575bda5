"""Attributes resolve host over appliance over global; profiles render in a sandbox."""

from __future__ import annotations

from typing import Any

import pytest
from frontloop import Frontend


def put(frontend: Frontend, path: str, body: Any) -> None:
    r = frontend.http.put(path, json=body, headers=frontend.admin())
    assert r.status_code in (200, 204), r.text


def profile_of(frontend: Frontend, token: str) -> dict[str, Any]:
    r = frontend.http.get("/api/v1/self/profile", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.text
    doc: dict[str, Any] = r.json()
    return doc


# Which scopes set `ntp`, and which value (scope) the host sees.
PRECEDENCE = [
    ({"global": "g"}, ("g", "global")),
    ({"global": "g", "appliance": "a"}, ("a", "appliance")),
    ({"global": "g", "appliance": "a", "host": "h"}, ("h", "host")),
    ({"appliance": "a", "host": "h"}, ("h", "host")),
    ({"global": "g", "host": "h"}, ("h", "host")),
]


@pytest.mark.parametrize(("scopes", "expected"), PRECEDENCE)
def test_attribute_precedence_and_scope(
    frontend: Frontend, scopes: dict[str, str], expected: tuple[str, str]
) -> None:
    name, _ = frontend.joined("i-1")
    paths = {
        "global": "/api/v1/attributes/ntp",
        "appliance": "/api/v1/appliances/backend/attributes/ntp",
        "host": f"/api/v1/hosts/{name}/attributes/ntp",
    }
    for scope, value in scopes.items():
        put(frontend, paths[scope], {"value": value})
    rows = frontend.http.get(f"/api/v1/hosts/{name}/attributes", headers=frontend.admin()).json()
    assert [(r["attr"], r["value"], r["scope"]) for r in rows] == [("ntp", *expected)]


PROFILE = {
    "packages": ["hello"],
    "files": [
        {
            "path": "/etc/app.conf",
            "content": "host={{ host.name }} ntp={{ ntp }} pw={{ attrs['db.password'] }}\n",
            "mode": "0600",
        }
    ],
    "scripts": [{"name": "setup.sh", "content": "#!/bin/sh\necho {{ host.rack }}\n"}],
    "bootstrap": [{"shell": "echo {{ attrs.ntp }}"}],
    "reboot": True,
}


def test_profile_renders_with_secrets_only_for_their_host(frontend: Frontend) -> None:
    put(frontend, "/api/v1/appliances/backend/profile", PROFILE)
    put(frontend, "/api/v1/attributes/ntp", {"value": "10.0.0.1"})
    put(frontend, "/api/v1/attributes/db.password", {"value": "common", "shadow": True})
    mine, my_token = frontend.joined("i-1")
    _, other_token = frontend.joined("i-2")
    put(
        frontend,
        f"/api/v1/hosts/{mine}/attributes/db.password",
        {"value": "s3cret", "shadow": True},
    )

    doc = profile_of(frontend, my_token)
    assert doc["files"][0]["content"] == f"host={mine} ntp=10.0.0.1 pw=s3cret\n"
    assert doc["files"][0]["mode"] == "0600"
    assert doc["scripts"][0]["content"] == "#!/bin/sh\necho 0\n"
    assert doc["bootstrap"] == [{"shell": "echo 10.0.0.1"}]
    assert doc["reboot"] is True
    assert "s3cret" not in str(profile_of(frontend, other_token))

    # Nobody else sees a shadow value in clear: not the attribute list, not the admin profile.
    for path in (
        f"/api/v1/hosts/{mine}/attributes",
        f"/api/v1/hosts/{mine}/profile",
        "/api/v1/attributes",
    ):
        text = frontend.http.get(path, headers=frontend.admin()).text
        assert "s3cret" not in text and "common" not in text
        assert "********" in text


@pytest.mark.parametrize(
    "content",
    [
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ host.__class__ }}",
        "{{ undefined_attribute }}",
    ],
)
def test_templates_cannot_escape_or_use_missing_attributes(
    frontend: Frontend, content: str
) -> None:
    put(
        frontend,
        "/api/v1/appliances/backend/profile",
        {"files": [{"path": "/x", "content": content}]},
    )
    _, token = frontend.joined("i-1")
    r = frontend.http.get("/api/v1/self/profile", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 422
    assert "/x" in r.json()["detail"]


def test_a_profile_that_does_not_parse_is_refused(frontend: Frontend) -> None:
    r = frontend.http.put(
        "/api/v1/appliances/backend/profile",
        json={"scripts": [{"name": "a", "content": "{% if %}"}]},
        headers=frontend.admin(),
    )
    assert r.status_code == 422
    assert "script a" in r.json()["detail"]


@pytest.mark.parametrize("name", ["..", ".", "a/b", "../../etc/cron.d/x", ".hidden"])
def test_a_script_name_that_is_not_a_plain_file_name_is_refused(
    frontend: Frontend, name: str
) -> None:
    r = frontend.http.put(
        "/api/v1/appliances/backend/profile",
        json={"scripts": [{"name": name, "content": "#!/bin/sh\n"}]},
        headers=frontend.admin(),
    )
    assert r.status_code == 422
    assert "is not a plain file name" in r.text


def test_a_profile_file_with_such_a_script_name_is_one_sentence(tmp_path: Any) -> None:
    from shipyard.errors import UsageError
    from shipyard.frontend.profile_file import load_profile

    path = tmp_path / "profile.yml"
    path.write_text("scripts:\n  - name: '..'\n    content: '#!/bin/sh'\n")
    with pytest.raises(UsageError) as caught:
        load_profile(path)
    assert str(caught.value) == (
        f"profile {path}: scripts.0.name: '..' is not a plain file name (letters, digits, "
        "_ . -, not starting with a dot)"
    )
