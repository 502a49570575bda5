"""The agent's join: against a real frontend on loopback, into a root under tmp_path."""

from __future__ import annotations

import json
import os
import ssl
import stat
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from shipyard.agent import register
from shipyard.frontend import setup
from shipyard.frontend.api.app import create_app
from shipyard.frontend.core import db
from shipyard.frontend.core.config import FrontendConfig
from shipyard.frontend.core.sealing import new_key
from shipyard.frontend.core.tls import TlsFiles
from shipyard.frontend.server import background


@dataclass
class Frontend:
    url: str
    admin: httpx.Client
    join_token: str
    ca_sha256: str

    @property
    def master(self) -> str:
        return self.url

    def host(self, name: str) -> dict[str, Any]:
        doc: dict[str, Any] = self.admin.get(f"/api/v1/hosts/{name}").raise_for_status().json()
        return doc


@pytest.fixture
def frontend(tmp_path: Path) -> Iterator[Frontend]:
    """A real frontend over TLS with its self-signed certificate, which the agent pins."""
    url = f"sqlite:///{tmp_path / 'fe.db'}"
    engine = db.make_engine(url)
    made = setup.init(engine, tmp_path / "tls")
    tls = TlsFiles(Path(made["tls_cert"]), Path(made["tls_key"]))
    with (
        background(
            create_app(FrontendConfig(db_url=url, secret_key=new_key()), engine=engine), tls=tls
        ) as base,
        httpx.Client(
            base_url=base,
            headers={"Authorization": f"Bearer {made['admin_token']}"},
            verify=ssl.create_default_context(cafile=made["tls_cert"]),
        ) as admin,
    ):
        yield Frontend(base, admin, made["join_token"], made["ca_sha256"])
    engine.dispose()


@dataclass
class Machine:
    """A root directory, the commands run in it, and the console reports."""

    root: Path
    commands: list[list[str]] = field(default_factory=list)
    reports: list[dict[str, Any]] = field(default_factory=list)
    apt_fails: bool = False

    def run(self, argv: Sequence[str]) -> tuple[int, str]:
        self.commands.append(list(argv))
        if argv[0] == "apt-get":
            # Installing packages needs a Debian root; record the request instead.
            if self.apt_fails and argv[1] == "install":
                return 100, "Reading package lists...\nE: Unable to locate package nosuch\n"
            return 0, ""
        if argv[0] == "systemctl":
            return 0, ""
        return register.run_command(argv)

    def report(self, step: str, ok: bool, **fields: Any) -> None:
        self.reports.append({"step": step, "ok": ok, **fields})

    def steps(self) -> list[tuple[str, bool]]:
        return [(r["step"], r["ok"]) for r in self.reports]


@pytest.fixture
def machine(tmp_path: Path) -> Machine:
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "passwd").write_text(
        "root:x:0:0::/root:/bin/sh\napp:x:1234:1234::/srv:/bin/sh\n"
    )
    (root / "etc" / "group").write_text("root:x:0:\napp:x:1234:\n")
    return Machine(root)


FACTS = {
    "instance_id": "i-0123456789abcdef0",
    "availability_zone": "local-1a",
    "region": "local-1",
    "local_ipv4": "10.0.2.15",
    "mac": "52:54:00:12:34:56",
    "hostname": "debian",
}


def set_profile(frontend: Frontend, profile: dict[str, Any]) -> None:
    frontend.admin.put("/api/v1/appliances/backend/profile", json=profile).raise_for_status()


def join(frontend: Frontend, machine: Machine, **request: Any) -> bool:
    req = {
        "master": frontend.master,
        "token": frontend.join_token,
        "ca_sha256": frontend.ca_sha256,
        **request,
    }
    api = (
        register.Api(
            register.parse_master(req["master"]), attempts=2, pause=0.05, pin=frontend.ca_sha256
        )
        if "master" not in request
        else None
    )
    return register.join(
        req, FACTS, machine.report, root=str(machine.root), run=machine.run, api=api
    )


def test_join_installs_the_profile_and_reports_installed(
    frontend: Frontend, machine: Machine
) -> None:
    out = machine.root / "bootstrap.out"
    frontend.admin.put("/api/v1/attributes/motd", json={"value": "hello from the frontend"})
    set_profile(
        frontend,
        {
            "packages": ["hello", "jq"],
            "files": [
                {
                    "path": "/etc/motd",
                    "content": "{{ motd }} on {{ host.name }}\n",
                    "mode": "0640",
                    "owner": "app",
                    "group": "app",
                },
                {"path": "/srv/app/app.conf", "content": "ip={{ host.ip }}\n"},
            ],
            "scripts": [
                {
                    "name": "setup.sh",
                    "content": f"#!/bin/sh\necho script > {machine.root}/script.out\n",
                }
            ],
            "bootstrap": [{"shell": f"echo {{{{ host.rack }}}}-{{{{ host.rank }}}} > {out}"}],
        },
    )
    assert join(frontend, machine) is True

    motd = machine.root / "etc" / "motd"
    assert motd.read_text() == "hello from the frontend on backend-0-0\n"
    assert stat.S_IMODE(motd.stat().st_mode) == 0o640
    if os.geteuid() == 0:
        assert (motd.stat().st_uid, motd.stat().st_gid) == (1234, 1234)
    assert (machine.root / "srv/app/app.conf").read_text() == "ip=10.0.2.15\n"
    assert (machine.root / "script.out").read_text() == "script\n"
    assert out.read_text() == "0-0\n"
    assert [
        "apt-get",
        "install",
        "-y",
        "--no-install-recommends",
        "hello",
        "jq",
    ] in machine.commands
    assert not any(c[0] == "systemctl" for c in machine.commands)
    assert machine.steps()[0] == ("register", True)
    assert machine.steps()[-1] == ("installed", True)
    host = frontend.host("backend-0-0")
    assert host["state"] == "installed"
    assert {"registered", "profile-sent", "installing", "installed"} <= set(host["transitions"])
    # Every console report is one JSON-able line.
    assert all(json.dumps(r) for r in machine.reports)


def test_a_failing_step_reports_failed_with_its_output(
    frontend: Frontend, machine: Machine
) -> None:
    machine.apt_fails = True
    set_profile(
        frontend, {"packages": ["nosuch"], "files": [{"path": "/etc/never", "content": "x"}]}
    )
    assert join(frontend, machine) is False
    host = frontend.host("backend-0-0")
    assert host["state"] == "failed"
    assert "Unable to locate package nosuch" in host["message"]
    assert not (machine.root / "etc" / "never").exists()
    failed = [r for r in machine.reports if not r["ok"]]
    assert failed[-1]["step"] == "packages"
    assert "Unable to locate package nosuch" in failed[-1]["output"]


def test_a_failing_script_stops_the_install(frontend: Frontend, machine: Machine) -> None:
    set_profile(
        frontend,
        {
            "scripts": [{"name": "bad", "content": "#!/bin/sh\necho oops >&2\nexit 3\n"}],
            "bootstrap": [{"shell": "true"}],
        },
    )
    assert join(frontend, machine) is False
    host = frontend.host("backend-0-0")
    assert host["state"] == "failed"
    assert "script bad exited with status 3" in host["message"]
    assert "oops" in host["message"]
    assert ["/bin/sh", "-c", "true"] not in machine.commands


def test_reboot_when_the_profile_asks_and_no_second_join_on_the_next_boot(
    frontend: Frontend, machine: Machine
) -> None:
    set_profile(frontend, {"reboot": True})
    assert join(frontend, machine) is True
    assert machine.commands[-1] == ["systemctl", "reboot"]
    # The next boot does not join again: a join token joins once, and nothing reinstalls.
    machine.commands.clear()
    assert join(frontend, machine) is True
    assert machine.commands == []
    assert frontend.host("backend-0-0")["state"] == "installed"


@pytest.mark.parametrize(
    "master",
    [
        "frontend.example.com",
        "10.0.0.1:99999",
        "",
        "10.0.0.1:port",
        "[::1",
        None,
        "1.2.3.4.5",
        "ftp://10.0.0.1",
        "https://frontend.example.com",
    ],
)
def test_master_must_be_an_ip_literal(machine: Machine, master: Any) -> None:
    assert (
        register.join(
            {"master": master}, FACTS, machine.report, root=str(machine.root), run=machine.run
        )
        is False
    )
    assert machine.steps() == [("register", False)]
    assert machine.commands == []


@pytest.mark.parametrize(
    ("master", "url"),
    [
        ("10.0.2.2", "http://10.0.2.2:8470"),
        ("10.0.2.2:9000", "http://10.0.2.2:9000"),
        ("[fd00::1]:9000", "http://[fd00::1]:9000"),
        ("fd00::1", "http://[fd00::1]:8470"),
        ("https://10.0.2.2", "https://10.0.2.2:8470"),
        ("https://[fd00::1]:9443/", "https://[fd00::1]:9443"),
        ("http://10.0.2.2:80", "http://10.0.2.2:80"),
        # An internal load balancer has only a name.
        (
            "https://internal-fe-1234.us-east-1.elb.amazonaws.com:8470",
            "https://internal-fe-1234.us-east-1.elb.amazonaws.com:8470",
        ),
        ("Frontend.Example.org", "http://frontend.example.org:8470"),
    ],
)
def test_master_forms(master: str, url: str) -> None:
    assert register.parse_master(master) == url


@pytest.mark.parametrize(
    "master",
    ["https://-bad.example.org", "https://a..b", "https://host_name.example", "https://x/y",
     "https://example.org:0", "https://[example.org]:8470", "https://" + "a." * 130 + "org",
     "ftp://10.0.2.2", "localhost"],
)  # fmt: skip
def test_master_refuses_what_is_no_host(master: str) -> None:
    with pytest.raises(ValueError, match="master"):
        register.parse_master(master)


def test_a_wrong_join_token_fails_cleanly(frontend: Frontend, machine: Machine) -> None:
    assert join(frontend, machine, token="syj_wrong") is False
    assert machine.steps() == [("register", False)]
    assert "HTTP 403" in machine.reports[0]["error"]


def test_paths_cannot_leave_the_root(frontend: Frontend, machine: Machine) -> None:
    set_profile(frontend, {"files": [{"path": "/../../escape", "content": "x"}]})
    assert join(frontend, machine) is False
    assert not (machine.root.parent.parent / "escape").exists()
    assert frontend.host("backend-0-0")["state"] == "failed"


def hosts(frontend: Frontend) -> list[Any]:
    listed: list[Any] = frontend.admin.get("/api/v1/hosts").raise_for_status().json()
    return listed


def test_plain_http_is_refused_unless_the_user_data_says_insecure(
    frontend: Frontend, machine: Machine, tmp_path: Path
) -> None:
    # The same frontend's port, as plain HTTP: the agent must not even try.
    plain = frontend.url.replace("https://", "http://")
    assert join(frontend, machine, master=plain) is False
    assert machine.steps() == [("register", False)]
    assert "refusing plain HTTP" in machine.reports[0]["error"]
    assert "insecure" in machine.reports[0]["error"]
    assert hosts(frontend) == []


def test_insecure_plain_http_joins_when_asked(tmp_path: Path, machine: Machine) -> None:
    url = f"sqlite:///{tmp_path / 'plain.db'}"
    engine = db.make_engine(url)
    made = setup.init(engine)
    with background(create_app(FrontendConfig(db_url=url), engine=engine)) as base:
        request = {"master": base, "token": made["join_token"], "insecure": True}
        assert register.join(
            request, FACTS, machine.report, root=str(machine.root), run=machine.run
        )
    assert ("installed", True) in machine.steps()
    engine.dispose()


def test_a_certificate_other_than_the_pinned_one_is_refused(
    frontend: Frontend, machine: Machine
) -> None:
    assert join(frontend, machine, master=frontend.master, ca_sha256="ab" * 32) is False
    assert machine.steps() == [("register", False)]
    assert "not the pinned one" in machine.reports[0]["error"]
    assert hosts(frontend) == []


@pytest.mark.parametrize("pin", ["abc", 42, "zz" * 32])
def test_a_malformed_pin_is_refused(frontend: Frontend, machine: Machine, pin: Any) -> None:
    assert join(frontend, machine, ca_sha256=pin) is False
    assert "ca_sha256" in machine.reports[0]["error"]


def test_profile_scripts_are_never_readable_by_others(frontend: Frontend, machine: Machine) -> None:
    set_profile(
        frontend,
        {"scripts": [{"name": "s", "content": '#!/bin/sh\nstat -c %a "$0"\n'}]},
    )
    assert join(frontend, machine) is True
    script = machine.root / "var" / "lib" / "shipyard" / "profile" / "s"
    assert stat.S_IMODE(script.stat().st_mode) == 0o700
    state = machine.root / "var" / "lib" / "shipyard" / "join"
    assert stat.S_IMODE(state.stat().st_mode) == 0o700


def test_an_identity_joined_host_comes_back_online_with_its_nonce(
    tmp_path: Path, machine: Machine
) -> None:
    from datetime import UTC, datetime

    from shipyard.frontend.core.config import IdentityCert
    from shipyard.vm import identity

    signer = identity.load_signer(tmp_path / "imds")
    doc = identity.identity_document(
        {
            "instanceId": FACTS["instance_id"],
            "accountId": "123456789012",
            "region": FACTS["region"],
            "availabilityZone": FACTS["availability_zone"],
            "privateIp": FACTS["local_ipv4"],
            "pendingTime": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
    )
    facts = {**FACTS, "identity_document": doc.decode(), "identity_signature": signer.sign(doc)}
    url = f"sqlite:///{tmp_path / 'id.db'}"
    engine = db.make_engine(url)
    made = setup.init(engine, tmp_path / "tls")
    tls = TlsFiles(Path(made["tls_cert"]), Path(made["tls_key"]))
    settings = FrontendConfig(
        db_url=url,
        identity_certs=(IdentityCert(signer.certificate),),
        identity_accounts=("123456789012",),
    )
    with background(create_app(settings, engine=engine), tls=tls) as base:
        request = {"master": base, "ca_sha256": made["ca_sha256"]}

        def boot() -> bool:
            return register.join(
                request, facts, machine.report, root=str(machine.root), run=machine.run
            )

        assert boot() is True
        nonce = machine.root / "var" / "lib" / "shipyard" / "join" / "nonce"
        assert stat.S_IMODE(nonce.stat().st_mode) == 0o600
        machine.reports.clear()
        assert boot() is True
        assert ("online", True) in machine.steps()
        # Another machine with the same document but without the nonce is refused.
        nonce.unlink()
        (machine.root / "var" / "lib" / "shipyard" / "join" / "installed").unlink()
        machine.reports.clear()
        assert boot() is False
        assert "nonce" in machine.reports[0]["error"]
    engine.dispose()


def test_a_secret_in_a_failing_scripts_output_is_masked_everywhere(
    frontend: Frontend, machine: Machine
) -> None:
    secret = "pw-Zq81-never-shown"
    frontend.admin.put(
        "/api/v1/attributes/db_password", json={"value": secret, "shadow": True}
    ).raise_for_status()
    set_profile(
        frontend,
        {
            "scripts": [
                {
                    "name": "db",
                    "content": "#!/bin/sh\necho connecting with {{ db_password }}\nexit 1\n",
                }
            ]
        },
    )
    assert join(frontend, machine) is False
    assert secret not in json.dumps(machine.reports)
    assert "connecting with ********" in machine.reports[-1]["output"]
    host = frontend.host("backend-0-0")
    assert host["state"] == "failed"
    assert secret not in host["message"]
    assert "connecting with ********" in host["message"]


class CannedApi:
    """A frontend that serves a profile the real one now refuses (stored before, say)."""

    def __init__(self, profile: dict[str, Any]) -> None:
        self.profile = profile
        self.token = ""
        self.statuses: list[dict[str, Any]] = []

    def call(self, method: str, path: str, body: Any = None, token: str = "") -> Any:
        if path == "/api/v1/join":
            return {"host_token": "t", "host": {"name": "backend-0-0", "state": "new"}}
        if path == "/api/v1/self/profile":
            return self.profile
        self.statuses.append(body)
        return {}


@pytest.mark.parametrize("name", ["..", ".", "a/b", "", "x" * 65])
def test_a_script_name_that_is_not_a_file_name_reports_failed(machine: Machine, name: str) -> None:
    api = CannedApi({"scripts": [{"name": name, "content": "#!/bin/sh\necho ran\n"}]})
    ok = register.join(
        {"master": "10.0.2.2", "insecure": True},
        FACTS,
        machine.report,
        root=str(machine.root),
        run=machine.run,
        api=api,  # type: ignore[arg-type]
    )
    assert ok is False
    assert api.statuses[-1]["state"] == "failed"
    assert "is not a plain file name" in api.statuses[-1]["message"]
    assert machine.reports[-1]["step"] == "scripts"
    assert not [c for c in machine.commands if c and "profile" in c[0]]


def test_a_script_that_cannot_be_written_reports_failed(machine: Machine) -> None:
    # A file where the scripts' folder should be.
    (machine.root / "var" / "lib" / "shipyard").mkdir(parents=True)
    (machine.root / "var" / "lib" / "shipyard" / "profile").write_text("")
    api = CannedApi({"scripts": [{"name": "setup.sh", "content": "#!/bin/sh\n"}]})
    ok = register.join(
        {"master": "10.0.2.2", "insecure": True},
        FACTS,
        machine.report,
        root=str(machine.root),
        run=machine.run,
        api=api,  # type: ignore[arg-type]
    )
    assert ok is False
    assert api.statuses[-1]["state"] == "failed"
    assert api.statuses[-1]["message"].startswith("cannot write ")
