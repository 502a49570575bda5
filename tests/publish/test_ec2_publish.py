"""Publishing a build as an AMI against a real moto server."""

from __future__ import annotations

import datetime as dt
import json
import threading
from pathlib import Path
from typing import Any

import pytest
from awsloop import REGION, FaultProxy, Recorder, clients, make_build, owned, read_snapshot

from shipyard.aws.ami import BUILD_TAG, MANIFEST_TAG, tags_of
from shipyard.aws.iam import PUBLISH_ACTIONS, actions, table_actions
from shipyard.errors import PublishError
from shipyard.manifest.schema import Ec2Target
from shipyard.publish import ec2, publish_targets
from shipyard.record import load
from shipyard.record_sections import RegionImage


def target(url: str, **fields: Any) -> Ec2Target:
    return Ec2Target(to="ec2", region=REGION, endpoint_url=url, **fields)


@pytest.fixture
def build(tmp_path: Path) -> Path:
    return make_build(tmp_path)


def test_publish_registers_an_ami_with_the_expected_request(aws: str, build: Path) -> None:
    rec = Recorder()
    result = ec2.publish(build, target(aws, tags={"team": "images"}), hooks=rec.hooks)

    (register,) = rec.params("RegisterImage")
    assert register["Name"] == "debian-bookworm-test-amd64"
    assert register["Architecture"] == "x86_64"
    assert register["BootMode"] == "uefi-preferred"
    assert register["EnaSupport"] is True
    assert register["SriovNetSupport"] == "simple"
    assert register["ImdsSupport"] == "v2.0"
    assert register["VirtualizationType"] == "hvm"
    assert register["RootDeviceName"] == "/dev/xvda"
    assert register["BlockDeviceMappings"] == [
        {
            "DeviceName": "/dev/xvda",
            "Ebs": {
                "SnapshotId": result.snapshot_id,
                "VolumeSize": 1,
                "VolumeType": "gp3",
                "DeleteOnTermination": True,
            },
        }
    ]
    (complete,) = rec.params("CompleteSnapshot")
    assert complete["ChangedBlocksCount"] == result.upload.blocks_sent == 10
    assert complete["ChecksumAggregationMethod"] == "LINEAR"

    ec2_client, ebs_client = clients(aws)
    image = ec2_client.describe_images(ImageIds=[result.image_id])["Images"][0]
    tags = tags_of(image)
    assert tags[BUILD_TAG] == "20261122-000000-abcd"
    assert tags[MANIFEST_TAG] == "0" * 64
    assert tags["team"] == "images"
    snapshot = ec2_client.describe_snapshots(SnapshotIds=[result.snapshot_id])["Snapshots"][0]
    assert tags_of(snapshot)[BUILD_TAG] == "20261122-000000-abcd"

    disk = build / "disk.raw"
    content, _ = read_snapshot(ebs_client, result.snapshot_id, disk.stat().st_size)
    assert content == disk.read_bytes()

    entry = load(build).publish[-1]
    assert entry == result
    assert entry.images == {
        REGION: RegionImage(image_id=result.image_id, snapshot_id=result.snapshot_id)
    }
    assert entry.tags["team"] == "images"


def test_boot_mode_follows_the_build(aws: str, tmp_path: Path) -> None:
    bios_only = make_build(tmp_path, boot_modes=("bios",))
    rec = Recorder()
    ec2.publish(bios_only, target(aws), hooks=rec.hooks)
    assert rec.params("RegisterImage")[0]["BootMode"] == "legacy-bios"
    with pytest.raises(PublishError, match="boot mode uefi needs a build that boots with uefi"):
        ec2.publish(bios_only, target(aws, boot_mode="uefi", name="other-name"))


def test_copies_to_two_regions_with_launch_permissions(aws: str, build: Path) -> None:
    result = ec2.publish(
        build, target(aws, copy_to=("eu-west-1", "ap-southeast-2"), share_with=("111122223333",))
    )
    assert set(result.images) == {REGION, "eu-west-1", "ap-southeast-2"}
    for region, image in result.images.items():
        ec2_client, _ = clients(aws, region)
        found = ec2_client.describe_images(
            Owners=["self"], Filters=[{"Name": "name", "Values": [result.name]}]
        )["Images"]
        assert [i["ImageId"] for i in found] == [image.image_id]
        assert tags_of(found[0])[BUILD_TAG] == "20261122-000000-abcd"
        grants = ec2_client.describe_image_attribute(
            ImageId=image.image_id, Attribute="launchPermission"
        )["LaunchPermissions"]
        assert grants == [{"UserId": "111122223333"}]


def test_public_images_are_launchable_by_all(aws: str, build: Path) -> None:
    result = ec2.publish(build, target(aws, public=True))
    ec2_client, _ = clients(aws)
    grants = ec2_client.describe_image_attribute(
        ImageId=result.image_id, Attribute="launchPermission"
    )["LaunchPermissions"]
    assert grants == [{"Group": "all"}]


def test_rerun_reuses_the_ami_and_finishes_missing_copies(aws: str, build: Path) -> None:
    first = ec2.publish(build, target(aws))
    rec = Recorder()
    second = ec2.publish(build, target(aws, copy_to=("eu-west-1",)), hooks=rec.hooks)
    assert second.image_id == first.image_id
    assert second.reused is True
    assert not rec.params("StartSnapshot") and not rec.params("RegisterImage")
    assert len(rec.params("CopyImage")) == 1
    third = ec2.publish(build, target(aws, copy_to=("eu-west-1",)))
    assert third.images == second.images
    images, _ = owned(aws)
    assert len(images) == 1
    assert len(load(build).publish) == 3


def test_a_foreign_ami_of_the_same_name_is_an_error_unless_forced(aws: str, build: Path) -> None:
    other = make_build(build.parent, build_id="20261121-000000-ffff")
    foreign = ec2.publish(other, target(aws, name="debian-bookworm-test-amd64"))
    with pytest.raises(PublishError, match=f"already exists in {REGION} .{foreign.image_id}."):
        ec2.publish(build, target(aws))
    _, snapshots = owned(aws)
    assert not [s for s in snapshots if tags_of(s).get(BUILD_TAG) == "20261122-000000-abcd"]

    mine = ec2.publish(build, target(aws, force=True))
    images, snapshots = owned(aws)
    assert [i["ImageId"] for i in images] == [mine.image_id]
    assert foreign.snapshot_id not in {s["SnapshotId"] for s in snapshots}


# moto has no image deprecation; the proxy answers it as EC2 does.
DEPRECATION = {
    "EnableImageDeprecation": "<EnableImageDeprecationResponse><requestId>r</requestId>"
    "<return>true</return></EnableImageDeprecationResponse>"
}


def test_deprecation_is_set_on_every_copy(aws: str, build: Path) -> None:
    rec = Recorder()
    with FaultProxy(aws, answer=DEPRECATION) as proxy:
        result = ec2.publish(
            build, target(proxy.url, deprecate_in=30, copy_to=("eu-west-1",)), hooks=rec.hooks
        )
    calls = rec.params("EnableImageDeprecation")
    assert sorted(c["ImageId"] for c in calls) == sorted(i.image_id for i in result.images.values())
    when = calls[0]["DeprecateAt"]
    days = (when - dt.datetime.now(dt.UTC)).total_seconds() / 86400
    assert 29.9 < days <= 30
    assert result.deprecate_at == when.isoformat().replace("+00:00", "Z")


def test_every_call_is_in_the_iam_policy_and_the_policy_holds_nothing_else(
    aws: str, build: Path
) -> None:
    rec = Recorder()
    other = make_build(build.parent, build_id="20261121-000000-ffff")
    with FaultProxy(aws, answer=DEPRECATION) as proxy:
        ec2.publish(other, target(proxy.url, name="debian-bookworm-test-amd64"), hooks=rec.hooks)
        ec2.publish(
            build,
            target(proxy.url, force=True, copy_to=("eu-west-1",), public=True, deprecate_in=9),
            hooks=rec.hooks,
        )
    assert rec.operations() == table_actions(PUBLISH_ACTIONS)
    assert rec.operations() <= set(actions("publish"))


def test_publish_targets_dispatches_by_name(aws: str, build: Path) -> None:
    (result,) = publish_targets(build, [target(aws)])
    assert result.target == "ec2" and result.image_id.startswith("ami-")


def test_publish_survives_faults_and_the_snapshot_is_exact(aws: str, tmp_path: Path) -> None:
    build = make_build(tmp_path, size=32 * 2**20, data_blocks=30)
    with FaultProxy(aws, rate=0.2) as proxy:
        result = ec2.publish(build, target(proxy.url, copy_to=("eu-west-1",)))
    assert sum(proxy.faults.values()) >= 5
    _, ebs_client = clients(aws)
    disk = build / "disk.raw"
    content, listed = read_snapshot(ebs_client, result.snapshot_id, disk.stat().st_size)
    assert content == disk.read_bytes()
    assert len(listed) == 31
    images, _ = owned(aws)
    assert len(images) == 1


def test_failure_removes_what_was_created(aws: str, build: Path) -> None:
    # Sharing is refused (as by a policy without it) after the AMI and its copy exist.
    refuse = frozenset({"ModifyImageAttribute"})
    with (
        FaultProxy(aws, refuse=refuse) as proxy,
        pytest.raises(PublishError, match="ModifyImageAttribute failed: UnauthorizedOperation"),
    ):
        ec2.publish(build, target(proxy.url, copy_to=("eu-west-1",), public=True))
    assert owned(aws) == ([], [])
    assert owned(aws, "eu-west-1") == ([], [])


def test_keep_on_failure_keeps_it(aws: str, build: Path) -> None:
    refuse = frozenset({"ModifyImageAttribute"})
    with FaultProxy(aws, refuse=refuse) as proxy, pytest.raises(PublishError):
        ec2.publish(build, target(proxy.url, keep_on_failure=True, public=True))
    images, snapshots = owned(aws)
    assert len(images) == 1 and snapshots


def test_no_secret_reaches_the_record(aws: str, build: Path) -> None:
    from shipyard.manifest.schema import Ec2Credentials

    creds = Ec2Credentials.model_validate(
        {"access-key": "AKIDSECRETLOOKING", "secret-key": "s3cr3t-value"}
    )
    ec2.publish(build, target(aws, credentials=creds))
    text = (build / "build.json").read_text()
    assert "s3cr3t-value" not in text and "AKIDSECRETLOOKING" not in text
    assert json.loads(text)["publish"][0]["image_id"].startswith("ami-")


def test_only_complete_builds_are_published(aws: str, build: Path) -> None:
    data = json.loads((build / "build.json").read_text())
    data["status"] = "failed"
    (build / "build.json").write_text(json.dumps(data))
    with pytest.raises(PublishError, match="is failed, not complete"):
        ec2.publish(build, target(aws))
    assert owned(aws) == ([], [])


def test_a_copy_still_in_flight_when_another_fails_is_removed_too(aws: str, build: Path) -> None:
    # eu-west-1's copy is refused only once ap-southeast-2's copy exists, and that copy's
    # answer is held until cleanup deregisters the home image (or 5 s pass): without
    # waiting for it, cleanup has already run when the copy's id comes back.
    copied, cleaning = threading.Event(), threading.Event()

    def before(op: str, region: str) -> str | None:
        if op == "CopyImage" and region == "eu-west-1":
            copied.wait(30)
            return "denied"
        if op == "DeregisterImage" and region == REGION:
            cleaning.set()
        return None

    def after(op: str, region: str) -> None:
        if op == "CopyImage" and region == "ap-southeast-2":
            copied.set()
            cleaning.wait(5)

    with (
        FaultProxy(aws, before=before, after=after) as proxy,
        pytest.raises(PublishError, match="CopyImage failed: UnauthorizedOperation"),
    ):
        ec2.publish(build, target(proxy.url, copy_to=("eu-west-1", "ap-southeast-2")))
    for worker in threading.enumerate():
        if worker.name.startswith("copy"):
            worker.join(timeout=60)
    assert owned(aws) == ([], [])
    assert owned(aws, "ap-southeast-2")[0] == []
