"""A backend VM booted with `shipyard run` joins a frontend on the host and installs itself."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from shipyard.cli.main import main
from shipyard.frontend import setup
from shipyard.frontend.api.app import create_app
from shipyard.frontend.core import db
from shipyard.frontend.core.config import CA_ENV, FrontendConfig
from shipyard.frontend.core.tls import TlsFiles
from shipyard.frontend.server import background

pytestmark = pytest.mark.vm

READY_TIMEOUT = 1200  # TCG on a busy machine, plus apt-get update and install in the guest

PROFILE = """\
packages: [hello]
files:
  - path: /etc/shipyard-site.conf
    content: "site={{ site }} host={{ host.name }}\\n"
    mode: "0640"
bootstrap:
  # Show the guest's view on the serial console, where the test reads it.
  - shell: "f=/etc/shipyard-site.conf; echo SITE-CONF $(cat $f) MODE $(stat -c %a $f) > /dev/ttyS0"
  - shell: "echo HELLO-SAYS $(/usr/bin/hello) > /dev/ttyS0"
"""


@contextmanager
def pinned_cli(cert: str) -> Iterator[None]:
    """The admin CLI trusts the frontend's self-signed certificate while the block runs."""
    old = os.environ.get(CA_ENV)
    os.environ[CA_ENV] = cert
    try:
        yield
    finally:
        if old is None:
            del os.environ[CA_ENV]
        else:
            os.environ[CA_ENV] = old


def stack(capsys: pytest.CaptureFixture[str], url: str, token: str, *words: str) -> str:
    code = main(["stack", "--frontend", url, "--token", token, *words])
    out, err = capsys.readouterr()
    assert code == 0, err
    return out


def test_backend_vm_registers_and_reaches_installed(
    minimal_build: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db_url = f"sqlite:///{tmp_path / 'frontend.db'}"
    engine = db.make_engine(db_url)
    made = setup.init(engine, tmp_path / "tls")
    tls = TlsFiles(Path(made["tls_cert"]), Path(made["tls_key"]))
    admin = made["admin_token"]
    (tmp_path / "backend.yml").write_text(PROFILE)
    # The guest reaches the host's loopback as 10.0.2.2 (qemu user networking).
    # Over TLS: the agent pins the frontend's self-signed certificate from the user data.
    with (
        background(create_app(FrontendConfig(db_url=db_url), engine=engine), tls=tls) as url,
        pinned_cli(made["tls_cert"]),
    ):
        port = url.rsplit(":", 1)[1]
        stack(
            capsys,
            url,
            admin,
            "set",
            "appliance",
            "profile",
            "backend",
            f"file={tmp_path / 'backend.yml'}",
        )
        # A slot named by hand, with a host attribute, for the first backend that joins.
        stack(
            capsys,
            url,
            admin,
            "add",
            "host",
            "backend-0-0",
            "appliance=backend",
            "rack=0",
            "rank=0",
        )
        stack(
            capsys, url, admin, "set", "host", "attr", "backend-0-0", "attr=site", "value=e2e-lab"
        )
        user_data = tmp_path / "user-data.json"
        user_data.write_text(
            json.dumps(
                {
                    "master": f"https://10.0.2.2:{port}",
                    "ca_sha256": made["ca_sha256"],
                    "appliance": "backend",
                    "token": made["join_token"],
                }
            )
        )
        result = subprocess.run(
            [sys.executable, "-m", "shipyard.cli.main", "run", str(minimal_build),
             "--user-data", str(user_data), "--wait-ready", "--timeout", str(READY_TIMEOUT),
             "--json"],
            capture_output=True, text=True, check=False, timeout=READY_TIMEOUT + 300,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr[-3000:]
        run = json.loads(result.stdout)
        console = Path(run["console_log"]).read_text(errors="replace")

        hosts = json.loads(stack(capsys, url, admin, "list", "host", "output-format=json"))
        assert len(hosts) == 1, hosts
        host = hosts[0]
        assert (host["host"], host["appliance"], host["instance_id"]) == (
            "backend-0-0",
            "backend",
            run["instance_id"],
        )
        assert host["state"] == "installed", console[-4000:]
        assert host["ip"] == "10.0.2.15"

    assert "SITE-CONF site=e2e-lab host=backend-0-0 MODE 640" in console
    assert "HELLO-SAYS Hello, world!" in console
    reports = [
        json.loads(line.split("shipyard-agent: ", 1)[1])
        for line in console.splitlines()
        if "shipyard-agent: {" in line
    ]
    steps = {(r.get("step"), r.get("ok")) for r in reports}
    assert {("register", True), ("packages", True), ("installed", True)} <= steps, reports
