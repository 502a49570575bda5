"""A Stacki-style cluster on one machine: a frontend VM from its image, configured from
a secret and SSM parameters that its tags name (a moto server on the host), and two
backends from examples/backend.yml that register with it, install themselves and show up
in `shipyard stack list host`."""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import ssl
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path

import pytest
from awsloop import REGION, moto_server

pytestmark = pytest.mark.vm

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
READY_TIMEOUT = 900  # three guests under TCG on a busy machine
CONFIGURED = re.compile(r"shipyard-frontend: configured, ca_sha256=([0-9a-f]{64})")


@pytest.fixture(scope="session")
def frontend_build(build_image, tmp_path_factory: pytest.TempPathFactory) -> Path:  # type: ignore[no-untyped-def]
    """examples/frontend.yml with wheels of this checkout, built once per session."""
    folder = tmp_path_factory.mktemp("frontend-image")
    for name in ("minimal.yml", "frontend.yml"):
        shutil.copy(EXAMPLES / name, folder / name)
    shutil.copytree(EXAMPLES / "frontend", folder / "frontend")
    wheels = folder / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "-w", str(wheels), str(ROOT)],
        check=True, capture_output=True,
    )  # fmt: skip
    (folder / "dist").mkdir()
    subprocess.run(["tar", "-C", str(wheels), "-cf", str(folder / "dist" / "wheels.tar"), "."],
                   check=True)  # fmt: skip
    built: Path = build_image(folder / "frontend.yml")
    return built


@pytest.fixture(scope="session")
def backend_build(build_image) -> Path:  # type: ignore[no-untyped-def]
    """examples/backend.yml, built once per session."""
    built: Path = build_image(EXAMPLES / "backend.yml")
    return built


def shipyard(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "shipyard.cli.main", *args],
        capture_output=True, text=True, timeout=READY_TIMEOUT + 180, env=env, check=False,
    )  # fmt: skip


def test_backends_join_a_frontend_vm_and_install_themselves(
    frontend_build: Path, backend_build: Path, tmp_path: Path
) -> None:
    with ExitStack() as stack:
        _cluster(stack, frontend_build, backend_build, tmp_path)


def _store_settings(url: str, admin: str, join: str) -> None:
    """The frontend's database (SQLite, as a URL in a secret) and tokens, in the moto server."""
    import boto3

    session = boto3.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
    )
    session.client("secretsmanager", endpoint_url=url).create_secret(
        Name="frontend/db", SecretString="sqlite:////var/lib/shipyard/frontend.db"
    )
    ssm = session.client("ssm", endpoint_url=url)
    for name, value in (("/shipyard/admin-token", admin), ("/shipyard/join-token", join)):
        ssm.put_parameter(Name=name, Value=value, Type="SecureString")


def _cluster(stack: ExitStack, frontend_build: Path, backend_build: Path, tmp_path: Path) -> None:
    admin, join = "sya_" + secrets.token_urlsafe(32), "syj_" + secrets.token_urlsafe(32)
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path / "state")}
    aws = stack.enter_context(moto_server())
    _store_settings(aws, admin, join)
    user_data = tmp_path / "frontend.json"
    # The guest reaches the host's loopback, where the moto server listens, at 10.0.2.2.
    guest_aws = aws.replace("127.0.0.1", "10.0.2.2")
    user_data.write_text(json.dumps({"frontend": {"endpoint_url": guest_aws}}))
    tags = {
        "shipyard:database-secret": "frontend/db",
        "shipyard:admin-token-parameter": "/shipyard/admin-token",
        "shipyard:join-token-parameter": "/shipyard/join-token",
    }
    try:
        started = shipyard(
            "run", str(frontend_build), "--detach", "--wait-ready", "--forward", "8470",
            "--timeout", str(READY_TIMEOUT), "--user-data", str(user_data), "--json",
            "--iam-role", "shipyard-frontend",
            *[arg for key, value in tags.items() for arg in ("--tag", f"{key}={value}")],
            env=env,
        )  # fmt: skip
        assert started.returncode == 0, started.stderr
        frontend = json.loads(started.stdout)
        port = frontend["forwards"][0]["host_port"]
        console = Path(frontend["console_log"]).read_text(errors="replace")
        found = CONFIGURED.search(console)
        assert found, console[-2000:]
        ca_sha256 = found.group(1)
        assert admin not in console and join not in console
        assert "db from secret frontend/db (tag shipyard:database-secret)" in console

        certificate = tmp_path / "frontend.crt"
        certificate.write_text(_certificate(port))
        for n in range(2):
            data = tmp_path / f"backend-{n}.json"
            data.write_text(json.dumps({
                "master": f"https://10.0.2.2:{port}", "ca_sha256": ca_sha256,
                "appliance": "backend", "token": join,
            }))  # fmt: skip
            backend = shipyard(
                "run", str(backend_build), "--detach", "--user-data", str(data), env=env
            )
            assert backend.returncode == 0, backend.stderr

        admin_env = {
            **env,
            "SHIPYARD_FRONTEND_URL": f"https://127.0.0.1:{port}",
            "SHIPYARD_ADMIN_TOKEN": admin,
            "SHIPYARD_FRONTEND_CA": str(certificate),
        }
        deadline = time.monotonic() + READY_TIMEOUT
        while True:
            listed = shipyard("stack", "list", "host", "--json", env=admin_env)
            assert listed.returncode == 0, listed.stderr
            hosts = {h["host"]: h["state"] for h in json.loads(listed.stdout)}
            if list(hosts.values()) == ["installed", "installed"] or time.monotonic() > deadline:
                break
            time.sleep(5)
        assert hosts == {"backend-0-0": "installed", "backend-0-1": "installed"}
        table = shipyard("stack", "list", "host", env=admin_env).stdout.splitlines()
        assert [line.split()[0] for line in table] == ["HOST", "backend-0-0", "backend-0-1"]
    finally:
        stopped = shipyard("stop", "--all", env=env)
        assert stopped.returncode == 0, stopped.stderr


def _certificate(port: int) -> str:
    """The frontend's self-signed certificate, once its service answers."""
    deadline = time.monotonic() + 600  # the service starts after the agent, under TCG
    while True:
        try:
            return ssl.get_server_certificate(("127.0.0.1", port), timeout=10)
        except (OSError, ssl.SSLError):
            if time.monotonic() > deadline:
                raise
            time.sleep(2)
