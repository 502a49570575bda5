"""Stacks fixtures: the moto server over HTTP, a signed catalog holding an AMI registered
on that same server, and a folder of stack files."""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from awsloop import REGION, aws, moto_url
from catalogloop import ebs_entry

from shipyard import record
from shipyard.catalog import sign
from shipyard.catalog.add import add_build
from shipyard.catalog.store import open_store

__all__ = ["aws", "moto_url"]


@pytest.fixture(scope="session")
def gpg_home() -> Iterator[Path]:
    # gpg-agent's socket path must stay short, so not under pytest's deep temp dirs.
    home = Path(tempfile.mkdtemp(prefix="sy-stk-", dir="/tmp"))
    sign.ensure_key(home)
    yield home
    sign.stop_agents(home)
    shutil.rmtree(home, ignore_errors=True)


def register_ami(url: str, name: str = "debian-bookworm-minimal") -> tuple[str, str]:
    """(AMI, snapshot) on the moto server, as `shipyard publish --to ec2` leaves them."""
    ec2 = boto3.client("ec2", region_name=REGION, endpoint_url=url)
    volume = ec2.create_volume(Size=2, AvailabilityZone=f"{REGION}a")
    snapshot = ec2.create_snapshot(VolumeId=volume["VolumeId"])["SnapshotId"]
    answer = ec2.register_image(
        Name=name,
        Architecture="x86_64",
        RootDeviceName="/dev/xvda",
        VirtualizationType="hvm",
        BlockDeviceMappings=[{"DeviceName": "/dev/xvda", "Ebs": {"SnapshotId": snapshot}}],
    )
    return str(answer["ImageId"]), str(snapshot)


def add_to_catalog(
    store_dir: Path, gpg_home: Path, image: tuple[str, str], flavour: str = "minimal", n: int = 1
) -> str:
    """A recorded build published as ``image`` in us-east-1, added to the catalog as stable."""
    build_id = f"20261120-{n:06d}-{flavour}"
    build_dir = store_dir.parent / "builds" / build_id
    build_dir.mkdir(parents=True)
    data = b"disk image " * 100
    (build_dir / "disk.raw").write_bytes(data)
    rec = record.BuildRecord(
        id=build_id,
        name=f"debian-bookworm-{flavour}-amd64",
        status="complete",
        created=f"2026-11-{19 + n:02d}T10:00:00+00:00",
        manifest_path="minimal.yml",
        manifest_sha256="0" * 64,
        manifest={},
        release="bookworm",
        architecture="amd64",
        flavour=flavour,
        agent="shipyard",
        boot_modes=["uefi", "bios"],
        formats={
            "raw": record.Artifact(
                format="raw",
                path="disk.raw",
                size=len(data),
                allocated=len(data),
                virtual_size=2 * 1024**3,
                sha256=hashlib.sha256(data).hexdigest(),
            )
        },
        packages={"openssh-server": "1:9.2p1-2+deb12u3"},
    )
    record.write(build_dir, rec)
    record.append(build_dir, ebs_entry({REGION: image}))
    added = add_build(open_store(str(store_dir)), build_dir, "stable", gpg_home)
    return added.version


@pytest.fixture
def catalog(aws: str, tmp_path: Path, gpg_home: Path) -> tuple[Path, str]:
    """(store folder, AMI id): a catalog whose stable minimal image is an AMI on moto."""
    store = tmp_path / "catalog"
    image = register_ami(aws)
    add_to_catalog(store, gpg_home, image)
    return store, image[0]
