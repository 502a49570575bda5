"""A real build published to three regions, catalogued, resolved and pruned, end to end.

Nothing here writes a build record by hand: publish records the AMIs, the catalog reads
them from there. The AWS side is the moto server over HTTP.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest

from shipyard import record
from shipyard.catalog.api.app import create_app
from shipyard.catalog.api.deps import ServedCatalog
from shipyard.catalog.store import open_store
from shipyard.cli.main import main

pytestmark = pytest.mark.build

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

HOME = "us-east-1"
COPIES = ("us-west-2", "eu-west-1")
REGIONS = (HOME, *COPIES)
BuildMaker = Callable[..., Path]


@pytest.fixture
def build(minimal_build: Path, tmp_path: Path) -> Path:
    """A copy of the session's real build, so that what this test records stays its own."""
    copy = tmp_path / "builds" / minimal_build.name
    copy.parent.mkdir()
    subprocess.run(["cp", "-a", "--sparse=always", str(minimal_build), str(copy)], check=True)
    return copy


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    code = main([*argv, "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return json.loads(captured.out)


def ec2(url: str, region: str) -> Any:
    return boto3.client("ec2", endpoint_url=url, region_name=region)


def owned(url: str, region: str) -> tuple[set[str], set[str]]:
    """(AMIs, snapshots) the account has in ``region``."""
    client = ec2(url, region)
    images = {i["ImageId"] for i in client.describe_images(Owners=["self"])["Images"]}
    snaps = {s["SnapshotId"] for s in client.describe_snapshots(OwnerIds=["self"])["Snapshots"]}
    return images, snaps


def published_images(build: Path) -> dict[str, tuple[str, str | None]]:
    """(AMI, snapshot) by region, as publish recorded them in the build."""
    (entry,) = record.load(build).publish
    return {r: (i.image_id, i.snapshot_id) for r, i in entry.images.items()}


def assert_resolves_in_every_region(
    capsys: pytest.CaptureFixture[str],
    store: str,
    gpg_home: Path,
    serve: Any,
    images: dict[str, tuple[str, str | None]],
) -> None:
    """resolve region=R hands out the AMI publish made in R, on the CLI and over HTTP."""
    served = serve(create_app(ServedCatalog(open_store(store), gpg_home, None)))
    for region in REGIONS:
        found = run_json(
            capsys, "catalog", "resolve", "flavour=minimal", f"region={region}", "--store", store
        )
        assert {r: a["id"] for r, a in found["amis"].items()} == {region: images[region][0]}
        assert found["amis"][region]["snapshot_id"] == images[region][1]
        answer = httpx.get(
            f"{served.url}/api/v1/resolve", params={"flavour": "minimal", "region": region}
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["amis"][region]["id"] == images[region][0]
        assert answer.json()["version"] == found["version"]


def add_newer_version(
    capsys: pytest.CaptureFixture[str], store: str, make_build: BuildMaker
) -> None:
    """A newer version of the same product, so that prune may remove the published one."""
    newer = make_build(created="2099-01-01T00:00:00+00:00")
    assert run_json(capsys, "catalog", "add", str(newer), "--store", store)["changed"]


def prune(capsys: pytest.CaptureFixture[str], store: str, url: str) -> Any:
    return run_json(
        capsys, "catalog", "prune", "--keep", "1", "--store", store, "--ec2-endpoint-url", url
    )


def check_prune(
    capsys: pytest.CaptureFixture[str],
    store: str,
    url: str,
    images: dict[str, tuple[str, str | None]],
) -> None:
    """prune keeps the version while an instance or a launch template uses one of its AMIs,
    then deregisters its AMIs and deletes their snapshots in every region."""
    west = ec2(url, "us-west-2")
    instance = west.run_instances(ImageId=images["us-west-2"][0], MinCount=1, MaxCount=1)
    instance_id = instance["Instances"][0]["InstanceId"]
    (kept,) = prune(capsys, store, url)["kept"]
    assert instance_id in " ".join(kept["reasons"])
    west.terminate_instances(InstanceIds=[instance_id])

    europe = ec2(url, "eu-west-1")
    europe.create_launch_template(
        LaunchTemplateName="app", LaunchTemplateData={"ImageId": images["eu-west-1"][0]}
    )
    (kept,) = prune(capsys, store, url)["kept"]
    assert "launch template app" in " ".join(kept["reasons"])
    for region, (ami, snap) in images.items():
        amis, snaps = owned(url, region)
        assert ami in amis and snap in snaps, region
    europe.delete_launch_template(LaunchTemplateName="app")

    result = prune(capsys, store, url)
    (removed,) = result["removed"]
    assert result["kept"] == []
    assert {a["region"]: a["ami_id"] for a in removed["amis"]} == {
        r: ami for r, (ami, _) in images.items()
    }
    for region, (ami, snap) in images.items():
        amis, snaps = owned(url, region)
        assert ami not in amis and snap not in snaps, region


def test_publish_then_add_resolves_and_prunes_in_every_region(
    aws: str,
    build: Path,
    tmp_path: Path,
    gpg_home: Path,
    make_build: BuildMaker,
    serve: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    store = str(tmp_path / "store")
    published = run_json(
        capsys,
        "publish",
        str(build),
        "--to",
        "ec2",
        "--region",
        HOME,
        "--copy-to",
        ",".join(COPIES),
        "--endpoint-url",
        aws,
    )
    images = published_images(build)
    assert set(images) == set(REGIONS)
    assert published["images"] == {
        r: {"image_id": a, "snapshot_id": s} for r, (a, s) in images.items()
    }
    for region, (ami, snap) in images.items():
        amis, snaps = owned(aws, region)
        assert ami in amis and snap in snaps

    added = run_json(capsys, "catalog", "add", str(build), "--store", store)
    assert added["changed"] and added["build_id"] == build.name
    add_newer_version(capsys, store, make_build)
    assert_resolves_in_every_region(capsys, store, gpg_home, serve, images)
    check_prune(capsys, store, aws, images)


def test_publish_to_ec2_and_catalog_in_one_go(
    aws: str,
    build: Path,
    tmp_path: Path,
    gpg_home: Path,
    make_build: BuildMaker,
    serve: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    store = str(tmp_path / "store")
    ami_entry, catalog_entry = run_json(
        capsys,
        "publish",
        str(build),
        "--to",
        "ec2,catalog",
        "--region",
        HOME,
        "--copy-to",
        COPIES[0],
        "--copy-to",
        COPIES[1],
        "--endpoint-url",
        aws,
        "--store",
        store,
    )
    assert ami_entry["target"] == "ec2" and catalog_entry["target"] == "catalog"
    images = published_images(build)
    assert set(images) == set(REGIONS)
    (catalogued,) = record.load(build).catalog
    assert catalogued.version == catalog_entry["version"]
    add_newer_version(capsys, store, make_build)
    assert_resolves_in_every_region(capsys, store, gpg_home, serve, images)
    check_prune(capsys, store, aws, images)


def test_a_manifest_publish_list_publishes_and_catalogues_at_build_time(
    aws: str,
    tmp_path: Path,
    gpg_home: Path,
    make_build: BuildMaker,
    serve: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    store = str(tmp_path / "store")
    manifest = tmp_path / "published.yml"
    targets = [
        {"to": "ec2", "region": HOME, "copy_to": list(COPIES), "endpoint_url": aws},
        {"to": "catalog", "store": store},
    ]
    manifest.write_text(json.dumps({"extends": str(EXAMPLES / "minimal.yml"), "publish": targets}))
    built = run_json(capsys, "build", str(manifest), "-o", str(tmp_path / "builds"))
    build = Path(tmp_path / "builds" / built["id"])
    images = published_images(build)
    assert set(images) == set(REGIONS)
    assert built["publish"][0]["images"][HOME]["image_id"] == images[HOME][0]
    add_newer_version(capsys, store, make_build)
    assert_resolves_in_every_region(capsys, store, gpg_home, serve, images)
    check_prune(capsys, store, aws, images)
