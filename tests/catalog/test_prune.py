"""Retention against a moto server: in-use AMIs are kept, the rest go with their snapshots."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest

from shipyard.catalog import records, resolve, sign
from shipyard.catalog.add import add_build
from shipyard.catalog.ec2 import client_factory
from shipyard.catalog.lifecycle import prune
from shipyard.catalog.store import Store, open_store
from shipyard.errors import UsageError
from shipyard.manifest.schema import Ec2Target
from shipyard.publish import ec2 as ec2_publish
from shipyard.record_sections import EbsPublishEntry

BuildMaker = Callable[..., Path]
REGION = "us-east-1"


def publish_ami(build: Path, url: str) -> tuple[str, str]:
    """Publish a build's disk as ``publish --to ec2`` does; its (AMI, snapshot)."""
    entry = ec2_publish.publish(
        build, Ec2Target(to="ec2", region=REGION, endpoint_url=url), progress=False
    )
    assert isinstance(entry, EbsPublishEntry)
    return entry.image_id, entry.snapshot_id


@pytest.fixture
def ec2(aws: str) -> Any:
    return boto3.client("ec2", endpoint_url=aws, region_name=REGION)


@pytest.fixture
def catalog(
    tmp_path: Path, make_build: BuildMaker, gpg_home: Path, aws: str
) -> tuple[Store, dict[str, tuple[str, str]]]:
    """Four versions of one product, each with a published AMI; a fifth on another channel."""
    store = open_store(str(tmp_path / "catalog"))
    amis: dict[str, tuple[str, str]] = {}
    for day in ("01", "02", "03", "04"):
        build = make_build(created=f"2026-11-{day}T10:00:00+00:00")
        ami = publish_ami(build, aws)
        version = add_build(store, build, home=gpg_home).version
        amis[version] = ami
    add_build(
        store, make_build(created="2026-10-01T10:00:00+00:00"), channel="stable", home=gpg_home
    )
    return store, amis


def live_images(ec2: Any) -> set[str]:
    return {i["ImageId"] for i in ec2.describe_images(Owners=["self"])["Images"]}


def live_snapshots(ec2: Any) -> set[str]:
    return {s["SnapshotId"] for s in ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"]}


def test_prune_keeps_what_is_in_use_and_deletes_the_rest(
    catalog: tuple[Store, dict[str, tuple[str, str]]], ec2: Any, aws: str, gpg_home: Path
) -> None:
    store, amis = catalog
    running_ami = amis["20261101"][0]
    templated_ami = amis["20261102"][0]
    instance = ec2.run_instances(ImageId=running_ami, MinCount=1, MaxCount=1)["Instances"][0]
    template = f"app-{running_ami}"
    ec2.create_launch_template(
        LaunchTemplateName=template, LaunchTemplateData={"ImageId": templated_ami}
    )
    blobs_before = set(store.list("blobs/"))

    result = prune(store, keep=1, ec2=client_factory(aws), home=gpg_home)

    assert [e.version for e in result.removed] == ["20261103"]
    kept = {e.version: " ".join(e.reasons) for e in result.kept}
    assert instance["InstanceId"] in kept["20261101"]
    assert template in kept["20261102"]
    gone_ami, gone_snap = amis["20261103"]
    assert gone_ami not in live_images(ec2) and gone_snap not in live_snapshots(ec2)
    for version in ("20261101", "20261102", "20261104"):
        assert amis[version][0] in live_images(ec2)
        assert amis[version][1] in live_snapshots(ec2)
    remaining = {r.version for r in records.load_all(store)[0]}
    assert remaining == {"20261101", "20261102", "20261104", "20261001"}  # stable one is newest
    deleted = set(result.blobs_deleted)
    assert deleted and deleted <= blobs_before and not deleted & set(store.list("blobs/"))
    view = resolve.view_from_store(store, sign.verifier(gpg_home))
    assert "20261103" not in {i.version for imgs in view.products.values() for i in imgs}


def test_prune_respects_older_than_and_dry_run(
    catalog: tuple[Store, dict[str, tuple[str, str]]], ec2: Any, aws: str, gpg_home: Path
) -> None:
    store, amis = catalog
    before = store.list("")
    young = prune(store, keep=1, older_than_days=100_000, ec2=client_factory(aws))
    assert young.removed == () and store.list("") == before
    dry = prune(store, keep=2, ec2=client_factory(aws), dry_run=True)
    assert sorted(e.version for e in dry.removed) == ["20261101", "20261102"]
    assert store.list("") == before
    assert {a for a, _ in amis.values()} <= live_images(ec2)


def test_without_ec2_access_versions_with_amis_are_kept(
    catalog: tuple[Store, dict[str, tuple[str, str]]], gpg_home: Path
) -> None:
    store, _ = catalog
    result = prune(store, keep=1, ec2=None, home=gpg_home)
    assert result.removed == ()
    assert all("no EC2 access" in " ".join(e.reasons) for e in result.kept)


def test_keep_zero_is_refused(catalog: tuple[Store, dict[str, tuple[str, str]]]) -> None:
    with pytest.raises(UsageError, match="newest version is never pruned"):
        prune(catalog[0], keep=0)


def test_an_ami_deregistered_elsewhere_does_not_stop_prune(
    catalog: tuple[Store, dict[str, tuple[str, str]]], ec2: Any, aws: str, gpg_home: Path
) -> None:
    store, amis = catalog
    ami, snap = amis["20261101"]
    ec2.deregister_image(ImageId=ami)
    result = prune(store, keep=3, ec2=client_factory(aws), home=gpg_home)
    assert [e.version for e in result.removed] == ["20261101"]
    assert result.removed[0].amis[0].snapshots == (snap,)
    assert snap not in live_snapshots(ec2)
