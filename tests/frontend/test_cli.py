"""`shipyard frontend` and `shipyard stack`, run as a user would, against a real frontend."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from frontloop import Frontend

from shipyard.cli.main import main

sqlite_only = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_init_prints_tokens_and_token_commands_manage_join_tokens(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'fe.db'}"
    tls_dir = tmp_path / "tls"
    code, out, _ = run(capsys, "frontend", "init", "--db", url, "--tls-dir", str(tls_dir), "--json")
    made = json.loads(out)
    assert code == 0
    assert set(made) == {
        "initialised",
        "admin_token",
        "join_token",
        "tls_cert",
        "tls_key",
        "ca_sha256",
        "secret_key_file",
    }
    assert len(made["ca_sha256"]) == 64 and made["initialised"] == "now"
    assert (tls_dir / "frontend.key").stat().st_mode & 0o777 == 0o600
    assert Path(made["secret_key_file"]).stat().st_mode & 0o777 == 0o600
    code, out, _ = run(
        capsys, "frontend", "token", "create", "--db", url, "--description", "rack 4", "--json"
    )
    created = json.loads(out)
    assert created["join_token"].startswith("syj_")
    run(capsys, "frontend", "token", "revoke", str(created["id"]), "--db", url)
    code, out, _ = run(capsys, "frontend", "token", "list", "--db", url, "--json")
    listed = {t["description"]: t for t in json.loads(out)}
    assert listed["rack 4"]["revoked"] is not None
    assert listed["created by frontend init"]["revoked"] is None
    assert created["join_token"] not in out
    code, _, err = run(capsys, "frontend", "token", "revoke", "999", "--db", url)
    assert code != 0 and err.startswith("shipyard: error: there is no join token with id 999")


def test_admin_tokens_are_listed_rotated_and_revoked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'fe.db'}"
    run(capsys, "frontend", "init", "--db", url, "--tls-dir", str(tmp_path / "tls"))
    code, out, _ = run(
        capsys, "frontend", "token", "list", "--kind", "admin", "--db", url, "--json"
    )
    (first,) = json.loads(out)
    code, out, _ = run(
        capsys, "frontend", "token", "rotate", str(first["id"]), "--kind", "admin", "--db", url,
        "--json",
    )  # fmt: skip
    rotated = json.loads(out)
    assert code == 0 and rotated["admin_token"].startswith("sya_")
    code, out, _ = run(
        capsys, "frontend", "token", "list", "--kind", "admin", "--db", url, "--json"
    )
    listed = {t["id"]: t for t in json.loads(out)}
    assert listed[first["id"]]["revoked"] is not None
    assert listed[rotated["id"]]["revoked"] is None
    run(capsys, "frontend", "token", "revoke", str(rotated["id"]), "--kind", "admin", "--db", url)
    code, out, _ = run(
        capsys, "frontend", "token", "list", "--kind", "admin", "--db", url, "--json"
    )
    assert all(t["revoked"] is not None for t in json.loads(out))


def test_serve_refuses_identity_documents_without_an_account(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cert = tmp_path / "cert.pem"
    cert.write_text("-----BEGIN CERTIFICATE-----\n")
    code, _, err = run(
        capsys, "frontend", "serve", "--db", f"sqlite:///{tmp_path / 'fe.db'}",
        "--identity-cert", str(cert), "--listen", "127.0.0.1:1",
    )  # fmt: skip
    assert code == 2
    assert "--identity-cert needs --identity-account" in err


def test_serve_refuses_an_uninitialised_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    code, _, err = run(capsys, "frontend", "serve", "--db", url, "--listen", "127.0.0.1:1")
    assert code == 1
    assert "run `shipyard frontend init` first" in err


PROFILE = """\
packages: [hello]
files:
  - path: /etc/motd
    content: "welcome to {{ host.name }} in {{ site }}\\n"
    mode: "0644"
"""


@sqlite_only
def test_stack_commands_in_stackis_grammar(
    frontend: Frontend,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SHIPYARD_FRONTEND_URL", frontend.url)
    monkeypatch.setenv("SHIPYARD_ADMIN_TOKEN", frontend.admin_token)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "profile.yml").write_text(PROFILE)

    assert run(capsys, "stack", "add", "appliance", "compute")[0] == 0
    assert (
        run(capsys, "stack", "set", "appliance", "profile", "compute", "file=profile.yml")[0] == 0
    )
    assert run(capsys, "stack", "set", "attr", "attr=site", "value=lab")[0] == 0
    assert (
        run(
            capsys,
            "stack",
            "add",
            "host",
            "compute-0-0",
            "appliance=compute",
            "rack=0",
            "rank=0",
            "ip=10.0.0.10",
        )[0]
        == 0
    )
    assert (
        run(capsys, "stack", "set", "host", "attr", "compute-0-0", "attr=site", "value=rack-a")[0]
        == 0
    )
    assert (
        run(
            capsys,
            "stack",
            "set",
            "host",
            "attr",
            "compute-0-0",
            "attr=pw",
            "value=x9",
            "shadow=true",
        )[0]
        == 0
    )

    _, out, _ = run(capsys, "stack", "list", "host", "output-format=json")
    assert [(h["host"], h["appliance"], h["rack"], h["rank"]) for h in json.loads(out)] == [
        ("compute-0-0", "compute", 0, 0)
    ]
    _, out, _ = run(capsys, "stack", "list", "host")
    assert out.splitlines()[0].split()[:4] == ["HOST", "RACK", "RANK", "APPLIANCE"]
    assert out.splitlines()[1].split()[:4] == ["compute-0-0", "0", "0", "compute"]
    _, out, _ = run(capsys, "stack", "list", "host", "attr", "compute-0-0", "output-format=json")
    assert {(a["attr"], a["value"], a["scope"]) for a in json.loads(out)} == {
        ("site", "rack-a", "host"),
        ("pw", "********", "host"),
    }
    _, out, _ = run(capsys, "stack", "list", "host", "profile", "compute-0-0", "output-format=json")
    assert json.loads(out)["files"][0]["content"] == "welcome to compute-0-0 in rack-a\n"
    _, out, _ = run(capsys, "stack", "report", "host")
    assert "10.0.0.10\tcompute-0-0" in out.splitlines()
    _, out, _ = run(capsys, "stack", "list", "appliance", "output-format=json")
    assert {a["appliance"]: a["hosts"] for a in json.loads(out)} == {"backend": 0, "compute": 1}
    assert run(capsys, "stack", "remove", "host", "compute-0-0")[0] == 0
    _, out, _ = run(capsys, "stack", "list", "host", "output-format=json")
    assert json.loads(out) == []


@sqlite_only
@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["stack", "frobnicate", "host"], "unknown command 'stack frobnicate host'"),
        (["stack", "list", "host", "color=red"], "takes no parameter color="),
        (["stack", "list", "host", "output-format=xml"], "output-format=xml is not text or json"),
        (["stack", "set", "attr", "attr=x"], "missing parameter value="),
        (["stack", "remove", "host", "nosuch"], "there is no host named 'nosuch'"),
        (["stack", "list", "host", "nosuch-0-0"], "no host named 'nosuch-0-0'"),
        (["stack", "list", "appliance", "nosuch"], "no appliance named 'nosuch'"),
        (["stack", "list", "host", "--colour"], "'stack list host' has no option --colour"),
        (
            ["stack", "add", "host", "Bad Name"],
            "name: 'Bad Name' is not allowed here: use lower-case",
        ),
        (
            ["stack", "add", "appliance", "a" * 57],
            "an appliance name has at most 50 characters (this one has 57)",
        ),
        (
            ["stack", "set", "appliance", "profile", "backend", "file=missing.yml"],
            "cannot read profile",
        ),
    ],
)
def test_stack_errors_are_one_sentence(
    frontend: Frontend,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    argv: list[str],
    message: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, err = run(
        capsys, *argv[:1], "--frontend", frontend.url, "--token", frontend.admin_token, *argv[1:]
    )
    assert code != 0
    assert err.startswith("shipyard: error: ")
    assert message in err
    assert "Traceback" not in err


@sqlite_only
def test_stack_help_and_json_are_options_not_names(
    frontend: Frontend, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHIPYARD_FRONTEND_URL", frontend.url)
    monkeypatch.setenv("SHIPYARD_ADMIN_TOKEN", frontend.admin_token)

    code, out, err = run(capsys, "stack", "add", "host", "--help")
    assert (code, err) == (0, "")
    assert out.startswith("usage: stack add host NAME appliance=A")
    code, out, _ = run(capsys, "stack", "list", "host", "-h")
    assert code == 0 and out == "usage: stack list host [NAME...]\n"
    with pytest.raises(SystemExit) as exited:
        main(["stack", "--help"])
    assert exited.value.code == 0
    assert "  stack set host attr NAME attr=K" in capsys.readouterr().out

    # Nothing was sent for a host named --help, and an empty list still has its header.
    code, out, _ = run(capsys, "stack", "list", "host", "--json")
    assert (code, json.loads(out)) == (0, [])
    code, out, _ = run(capsys, "stack", "list", "host")
    assert code == 0
    assert out.split() == ["HOST", "RACK", "RANK", "APPLIANCE", "STATE", "INSTANCE_ID", "IP",
                           "MAC", "MESSAGE", "UPDATED"]  # fmt: skip


def test_stack_without_a_token_says_how_to_give_one(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SHIPYARD_ADMIN_TOKEN", raising=False)
    code, _, err = run(capsys, "stack", "list", "host")
    assert code == 2
    assert "SHIPYARD_ADMIN_TOKEN" in err


def test_connection_options_may_follow_the_verb(capsys: pytest.CaptureFixture[str]) -> None:
    from shipyard.cli.main import main

    code = main(["stack", "list", "host", "--frontend", "http://127.0.0.1:1", "--token=t"])
    err = capsys.readouterr().err
    assert code != 0
    assert "cannot reach the frontend at http://127.0.0.1:1" in err


def test_init_against_a_postgresql_that_is_not_there_is_one_sentence_without_the_password(
    capsys: pytest.CaptureFixture[str],
) -> None:
    import socket

    with socket.socket() as sock:  # a port that was free a moment ago, and is closed now
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"postgresql://shipyard:s3cret-pw@127.0.0.1:{port}/fe"
    code, out, err = run(capsys, "frontend", "init", "--db", url)
    assert code == 1 and out == ""
    assert err.startswith("shipyard: error: cannot connect to the database ")
    assert "s3cret-pw" not in err and "Traceback" not in err
    assert "shipyard: hint: start PostgreSQL" in err


def test_nothing_is_created_for_a_database_that_was_never_initialised(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nosuch" / "fe.db"
    code, _, err = run(capsys, "frontend", "init", "--db", f"sqlite:///{missing}")
    assert code == 1 and f"the folder {missing.parent} does not exist" in err
    assert not missing.parent.exists()

    never = tmp_path / "never.db"
    for argv in (["token", "list"], ["token", "create"], ["serve", "--listen", "127.0.0.1:8470"]):
        code, _, err = run(capsys, "frontend", *argv, "--db", f"sqlite:///{never}")
        assert code == 1, argv
        assert f"there is no frontend database at {never}" in err
        assert "run `shipyard frontend init` first" in err
    assert list(tmp_path.iterdir()) == []


def test_init_again_mints_no_tokens_and_adopts_given_ones(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from shipyard.frontend import setup
    from shipyard.frontend.core import db

    url = f"sqlite:///{tmp_path / 'fe.db'}"
    admin = "sya_" + "A" * 43
    (tmp_path / "admin.token").write_text(admin + "\n")
    monkeypatch.setenv("SHIPYARD_INIT_JOIN_TOKEN", "syj_" + "b" * 43)
    tls = ["--tls-dir", str(tmp_path / "tls")]
    code, out, _ = run(
        capsys, "frontend", "init", "--db", url, *tls,
        "--admin-token-file", str(tmp_path / "admin.token"), "--json",
    )  # fmt: skip
    first = json.loads(out)
    assert code == 0 and first["admin_token"] == admin and first["join_token"] == "syj_" + "b" * 43

    code, out, _ = run(capsys, "frontend", "init", "--db", url, *tls, "--json")
    again = json.loads(out)
    assert code == 0 and again["initialised"] == "already" and "admin_token" not in again
    engine = db.make_engine(url)
    assert len(setup.list_tokens(engine, "admin")) == 1
    code, out, _ = run(capsys, "frontend", "init", "--db", url, "--migrate-only")
    assert code == 0 and out.startswith("schema at revision ")

    (tmp_path / "bad.token").write_text("hunter2")
    code, _, err = run(
        capsys, "frontend", "init", "--db", f"sqlite:///{tmp_path / 'other.db'}",
        "--admin-token-file", str(tmp_path / "bad.token"),
    )  # fmt: skip
    assert code == 2 and "hunter2" not in err
    assert not (tmp_path / "other.db").exists()
    assert f"--admin-token-file {tmp_path / 'bad.token'} is not an admin token" in err
