"""Catalog fixtures: a throwaway signing key, recorded builds, a moto server, a served catalog."""

from __future__ import annotations

import hashlib
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from awsloop import CREDENTIALS, aws, free_port, moto_url

from shipyard import record
from shipyard.catalog import sign
from shipyard.catalog.store import Store, open_store
from shipyard.record_sections import EbsPublishEntry

__all__ = ["CREDENTIALS", "aws", "free_port", "moto_url"]


@pytest.fixture(scope="session")
def gpg_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A GnuPG home holding a throwaway catalog signing key."""
    # gpg-agent's socket path must stay short, so not under pytest's deep temp dirs.
    home = Path(tempfile.mkdtemp(prefix="sy-gpg-", dir="/tmp"))
    sign.ensure_key(home)
    yield home
    sign.stop_agents(home)
    shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="session")
def other_gpg_home() -> Iterator[Path]:
    """A second key ring with a key the catalog's clients do not trust."""
    home = Path(tempfile.mkdtemp(prefix="sy-gpg2-", dir="/tmp"))
    sign.ensure_key(home)
    yield home
    sign.stop_agents(home)
    shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(autouse=True)
def _catalog_env(gpg_home: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SHIPYARD_CATALOG_GNUPGHOME", str(gpg_home))
    monkeypatch.setenv("SHIPYARD_CATALOG", str(tmp_path / "default-catalog"))
    for key, value in CREDENTIALS.items():
        monkeypatch.setenv(key, value)


BuildMaker = Callable[..., Path]


@pytest.fixture
def make_build(tmp_path: Path) -> BuildMaker:
    """A recorded build directory with small image files, as ``shipyard build`` leaves one;
    ``publish`` entries are appended as publish appends them."""
    counter = iter(range(1, 10_000))

    def make(
        flavour: str = "minimal",
        release: str = "bookworm",
        arch: str = "amd64",
        created: str = "2026-11-20T10:00:00+00:00",
        packages: dict[str, str] | None = None,
        publish: list[EbsPublishEntry] | None = None,
        content: bytes | None = None,
        formats: tuple[str, ...] = ("raw", "qcow2"),
    ) -> Path:
        n = next(counter)
        build_id = f"{created[:10].replace('-', '')}-{n:06d}-{flavour}"
        build_dir = tmp_path / "builds" / build_id
        build_dir.mkdir(parents=True)
        arts = {}
        for fmt in formats:
            data = (content or f"{build_id} disk image ".encode() * 997) + fmt.encode()
            (build_dir / f"disk.{fmt}").write_bytes(data)
            arts[fmt] = record.Artifact(
                format=fmt,
                path=f"disk.{fmt}",
                size=len(data),
                allocated=len(data),
                virtual_size=2 * 1024**3,
                sha256=hashlib.sha256(data).hexdigest(),
            )
        rec = record.BuildRecord(
            id=build_id,
            name=f"debian-{release}-{flavour}-{arch}-{created[:10]}",
            status="complete",
            created=created,
            manifest_path="minimal.yml",
            manifest_sha256="0" * 64,
            manifest={},
            release=release,
            architecture=arch,
            flavour=flavour,
            agent="shipyard",
            boot_modes=["uefi", "bios"],
            formats=arts,
            packages=packages or {"openssh-server": "1:9.2p1-2+deb12u3", "hello": "2.10-3"},
        )
        record.write(build_dir, rec)
        for entry in publish or []:
            record.append(build_dir, entry)
        return build_dir

    return make


@pytest.fixture
def s3_store(moto_url: str, tmp_path: Path) -> Store:
    """An empty S3 store in a fresh bucket of the moto server."""
    import boto3

    bucket = f"catalog-{tmp_path.name.lower().replace('_', '-')[-30:]}-{free_port()}"
    boto3.client("s3", endpoint_url=moto_url, region_name="us-east-1").create_bucket(Bucket=bucket)
    return open_store(f"s3://{bucket}/images", endpoint_url=moto_url)


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    """Each kind of store, empty."""
    if request.param == "s3":
        s3: Store = request.getfixturevalue("s3_store")
        return s3
    return open_store(str(tmp_path / "catalog"))


class Served:
    """A catalog app served by uvicorn on loopback."""

    def __init__(self, app: Any) -> None:
        import uvicorn

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Served:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the catalog server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture
def serve() -> Iterator[Callable[..., Served]]:
    """Start catalog servers on loopback; they stop when the test ends."""
    started: list[Served] = []

    def start(app: Any) -> Served:
        served = Served(app).__enter__()
        started.append(served)
        return served

    yield start
    for served in started:
        served.__exit__()
