"""The frontend image's first boot, on the host: the metadata emulator serves the user data,
tags and an instance role; the moto server holds the secret and the parameters."""

from __future__ import annotations

import gzip
import importlib.util
import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from awsloop import REGION

from shipyard.vm.identity import Signer
from shipyard.vm.imds import ImdsServer, serve
from shipyard.vm.metadata import Instance

FIRSTBOOT = Path(__file__).resolve().parents[2] / "examples" / "frontend" / "firstboot.py"
ADMIN = "sya_" + "a" * 43
JOIN = "syj_" + "j" * 43
PASSWORD = "p@ss:w/rd%&'"  # RDS generates such; it must reach the URL intact, and no console
RDS_SECRET = {
    "username": "shipyard",
    "password": PASSWORD,
    "host": "frontend.abc.us-east-1.rds.amazonaws.com",
    "port": 5432,
    "dbname": "frontend",
    "engine": "postgres",
}
EXPECTED_URL = (
    "postgresql://shipyard:p%40ss%3Aw%2Frd%25%26%27"
    "@frontend.abc.us-east-1.rds.amazonaws.com:5432/frontend"
)


@pytest.fixture(scope="module")
def firstboot() -> ModuleType:
    """The script as a module: importing it configures nothing."""
    spec = importlib.util.spec_from_file_location("frontend_firstboot", FIRSTBOOT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def role_only(aws: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """No credentials but the instance role's: the SDK has to ask the metadata service."""
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    return aws


def admin_clients(url: str) -> tuple[Any, Any]:
    session = boto3.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
    )
    return (
        session.client("secretsmanager", endpoint_url=url),
        session.client("ssm", endpoint_url=url),
    )


def put_parameters(ssm: Any) -> None:
    for name, value in (("/shipyard/admin-token", ADMIN), ("/shipyard/join-token", JOIN)):
        ssm.put_parameter(Name=name, Value=value, Type="SecureString")


class Booted:
    """An instance as firstboot meets it: metadata at an emulator, a state folder."""

    def __init__(self, firstboot: ModuleType, server: ImdsServer, state: Path) -> None:
        self.firstboot, self.server, self.state = firstboot, server, state
        self.url = server.url

    def resolve(self) -> Any:
        return self.firstboot.resolve(self.firstboot.Metadata(self.url), str(self.state))


@pytest.fixture
def boot(
    firstboot: ModuleType, signer: Signer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Any]:
    """``boot(user_data=..., tags=...)`` → a :class:`Booted` whose metadata says so."""
    stack: list[Any] = []

    def _boot(
        user_data: dict[str, Any] | None = None,
        tags: dict[str, str] | None = None,
        *,
        gzipped: bool = False,
    ) -> Any:
        data = json.dumps(user_data).encode() if user_data is not None else None
        instance = Instance(
            user_data=gzip.compress(data) if data is not None and gzipped else data,
            tags=tuple((tags or {}).items()),
            iam_role="shipyard-frontend",
        )
        context = serve(instance, signer)
        server = context.__enter__()
        stack.append(context)
        # The SDK's credential chain finds the emulator through this variable.
        monkeypatch.setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", server.url)
        return Booted(firstboot, server, tmp_path)

    yield _boot
    for context in reversed(stack):
        context.__exit__(None, None, None)


def test_tags_name_an_rds_secret_and_two_parameters(
    role_only: str, boot: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    secrets, ssm = admin_clients(role_only)
    secrets.create_secret(Name="frontend/db", SecretString=json.dumps(RDS_SECRET))
    put_parameters(ssm)
    booted = boot(
        user_data={"frontend": {"endpoint_url": role_only}},
        tags={
            "Name": "frontend",
            "shipyard:database-secret": "frontend/db",
            "shipyard:admin-token-parameter": "/shipyard/admin-token",
            "shipyard:join-token-parameter": "/shipyard/join-token",
        },
    )
    settings = booted.resolve()
    assert settings.db == EXPECTED_URL
    assert settings.tokens == {"admin_token": ADMIN, "join_token": JOIN}
    assert settings.where == {
        "db": "secret frontend/db (tag shipyard:database-secret)",
        "admin_token": "parameter /shipyard/admin-token (tag shipyard:admin-token-parameter)",
        "join_token": "parameter /shipyard/join-token (tag shipyard:join-token-parameter)",
    }

    asked = {path for method, path, status in booted.server.requests if status == 200}
    assert "/latest/meta-data/iam/security-credentials/shipyard-frontend" in asked

    path = Path(booted.firstboot.write_environment(settings, str(tmp_path), (os.getuid(), 0)))
    assert path == tmp_path / "frontend.env"
    assert path.read_text() == f"SHIPYARD_FRONTEND_DB='{EXPECTED_URL}'\n"
    info = path.stat()
    assert stat.S_IMODE(info.st_mode) == 0o600 and (info.st_uid, info.st_gid) == (os.getuid(), 0)
    assert PASSWORD not in repr(settings) and ADMIN not in repr(settings)
    printed = capsys.readouterr()
    assert printed.out == printed.err == ""


def test_user_data_names_a_secret_by_arn_holding_a_url_and_the_parameters(
    role_only: str, boot: Any
) -> None:
    secrets, ssm = admin_clients(role_only)
    url = "postgresql://frontend:secret@db.internal:5433/shipyard"
    arn = secrets.create_secret(Name="db-url", SecretString=url)["ARN"]
    put_parameters(ssm)
    booted = boot(
        user_data={
            "frontend": {
                "database_secret": arn,
                "admin_token_parameter": "/shipyard/admin-token",
                "join_token_parameter": "/shipyard/join-token",
                "region": REGION,
                "endpoint_url": role_only,
            }
        },
        # User data wins over a tag naming the same thing.
        tags={"shipyard:database-secret": "some-other-secret"},
    )
    settings = booted.resolve()
    assert settings.db == url
    assert settings.tokens == {"admin_token": ADMIN, "join_token": JOIN}
    assert settings.where["db"] == f"secret {arn} (user data)"


def test_nothing_given_means_sqlite_in_the_state_folder_and_no_aws_at_all(
    boot: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing answers there
    for user_data in (None, {"frontend": {}}, {"master": "elsewhere"}):
        settings = boot(user_data=user_data, tags={"Name": "frontend"}).resolve()
        assert settings.db == f"sqlite:///{tmp_path}/frontend.db"
        assert settings.tokens == {}


@pytest.mark.parametrize("gzipped", [False, True])
def test_tokens_straight_from_user_data_still_work(boot: Any, gzipped: bool) -> None:
    given = {"frontend": {"admin_token": ADMIN, "join_token": JOIN}}
    settings = boot(user_data=given, gzipped=gzipped).resolve()
    assert settings.tokens == {"admin_token": ADMIN, "join_token": JOIN}
    assert settings.where["admin_token"] == "user data"


def test_a_missing_parameter_is_one_sentence_and_nothing_is_written(
    role_only: str, boot: Any, tmp_path: Path
) -> None:
    _, ssm = admin_clients(role_only)
    ssm.put_parameter(Name="/shipyard/admin-token", Value=ADMIN, Type="SecureString")
    booted = boot(
        user_data={"frontend": {"endpoint_url": role_only}},
        tags={
            "shipyard:admin-token-parameter": "/shipyard/admin-token",
            "shipyard:join-token-parameter": "/shipyard/join-token",
        },
    )
    with pytest.raises(booted.firstboot.Refused) as refused:
        booted.resolve()
    assert str(refused.value) == (
        "SSM parameter /shipyard/join-token (tag shipyard:join-token-parameter) "
        "cannot be read: it does not exist"
    )
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("secret", "problem"),
    [
        ({**RDS_SECRET, "engine": "mysql"}, "is for mysql; the frontend needs PostgreSQL"),
        ({"username": "u", "password": PASSWORD}, "has no host"),
        ("not json " + PASSWORD, "holds neither a database URL nor RDS's JSON fields"),
    ],
)
def test_a_secret_that_is_no_database_is_refused_without_showing_it(
    role_only: str, boot: Any, secret: Any, problem: str
) -> None:
    secrets, _ = admin_clients(role_only)
    text = secret if isinstance(secret, str) else json.dumps(secret)
    secrets.create_secret(Name="frontend/db", SecretString=text)
    booted = boot(user_data={"frontend": {"database_secret": "frontend/db",
                                          "endpoint_url": role_only}})  # fmt: skip
    with pytest.raises(booted.firstboot.Refused) as refused:
        booted.resolve()
    assert str(refused.value) == f"secret frontend/db (user data) {problem}"
    assert PASSWORD not in str(refused.value)


@pytest.mark.parametrize(
    ("frontend", "problem"),
    [
        ({"db": "mysql://x"}, "user data: the database must be sqlite:///PATH or postgresql://..."),
        ({"admin_token": "nope"}, "user data: the admin token must start with sya_"),
        ({"databse_secret": "x"}, "user data: frontend.databse_secret is not a setting"),
        ({"db": "sqlite:////x", "database_secret": "s"}, "both name the database; give one"),
        ({"join_token_parameter": 3}, "frontend.join_token_parameter must be a non-empty string"),
    ],
)
def test_bad_user_data_is_one_sentence(boot: Any, frontend: dict[str, Any], problem: str) -> None:
    booted = boot(user_data={"frontend": frontend})
    with pytest.raises(booted.firstboot.Refused, match=problem.replace(".", r"\.")):
        booted.resolve()
