"""S3-backed AMIs: bundles uploaded to a real moto server's S3 and registered from there."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from awsloop import REGION, FaultProxy, Recorder, make_build, owned
from bundleloop import BUCKET, user_identity

from shipyard import record
from shipyard.aws.bundle_format import SessionKey, load_private_key
from shipyard.aws.bundle_manifest import parse, verify
from shipyard.aws.bundle_unpack import unpack
from shipyard.aws.iam import BUNDLE_ACTIONS, actions, table_actions
from shipyard.errors import PublishError
from shipyard.manifest.schema import Ec2Target, Manifest
from shipyard.publish import ec2, publish_targets, s3_bundle
from shipyard.record_sections import RegionImage

ACCOUNT = "123456789012"


@pytest.fixture
def build(tmp_path: Path) -> Path:
    # About 15 MiB of random data in 40 MiB: two parts.
    return make_build(tmp_path, size=40 * 2**20, data_blocks=60, zero_blocks=4)


def target(url: str, identity: tuple[Path, Path], **fields: Any) -> Ec2Target:
    cert, key = identity
    values: dict[str, Any] = {
        "region": REGION,
        "endpoint_url": url,
        "backing": "s3",
        "bucket": BUCKET,
        "prefix": "images/test",
        "user_cert": str(cert),
        "user_key": str(key),
        "account_id": ACCOUNT,
    }
    return Ec2Target(to="ec2", **{**values, **fields})


def objects(s3: Any) -> dict[str, bytes]:
    listed = s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])
    return {o["Key"]: s3.get_object(Bucket=BUCKET, Key=o["Key"])["Body"].read() for o in listed}


def unbundled(s3: Any, manifest_key: str, key: Path, out: Path) -> bytes:
    found = objects(s3)
    manifest = parse(found[manifest_key], manifest_key)
    private = load_private_key(key)
    verify(manifest, private.public_key(), manifest_key)
    session = SessionKey.decrypt_with(
        private, manifest.user_encrypted_key, manifest.user_encrypted_iv
    )
    folder = manifest_key.rpartition("/")[0]
    unpack(manifest, session, lambda name: found[f"{folder}/{name}"], out)
    return out.read_bytes()


def test_publish_uploads_the_bundle_and_registers_it_from_its_location(
    aws: str, s3: Any, build: Path, identity: tuple[Path, Path], tmp_path: Path
) -> None:
    rec = Recorder()
    result = ec2.publish(build, target(aws, identity), hooks=rec.hooks)

    name = "debian-bookworm-test-amd64"
    manifest_key = f"images/test/{name}.manifest.xml"
    (register,) = rec.params("RegisterImage")
    assert register["ImageLocation"] == f"{BUCKET}/{manifest_key}"
    assert register["BootMode"] == "legacy-bios"
    assert register["VirtualizationType"] == "hvm"
    assert register["RootDeviceName"] == "/dev/sda1"
    assert "BlockDeviceMappings" not in register
    puts = rec.params("PutObject")
    bundle_puts = [p for p in puts if not p["Key"].endswith(".shipyard-resume.json")]
    assert bundle_puts and all(p["ACL"] == "aws-exec-read" for p in bundle_puts)

    found = objects(s3)
    parts = sorted(k for k in found if ".part." in k)
    assert parts == [f"images/test/{name}.part.{i:02d}" for i in range(2)]
    assert manifest_key in found
    assert result.image_location == f"{BUCKET}/{manifest_key}"
    assert result.parts == 2 and result.parts_sent == 2
    assert result.images == {REGION: RegionImage(image_id=result.image_id)}

    disk = (build / "disk.raw").read_bytes()
    assert unbundled(s3, manifest_key, identity[1], tmp_path / "back.raw") == disk
    images, _ = owned(aws)
    assert [i["ImageId"] for i in images] == [result.image_id]
    (entry,) = record.load(build).publish
    assert entry == result and entry.backing == "s3"


def test_rerun_after_a_kept_failure_skips_the_parts_already_uploaded(
    aws: str, s3: Any, build: Path, identity: tuple[Path, Path], tmp_path: Path
) -> None:
    # The resume record and the first part go through; the second part is refused.
    with (
        FaultProxy(aws, refuse_after={"PutObject": 2}) as proxy,
        pytest.raises(PublishError, match="PutObject"),
    ):
        s3_bundle.publish(build, target(proxy.url, identity, keep_on_failure=True), concurrency=1)
    kept = objects(s3)
    assert len([k for k in kept if ".part." in k]) == 1

    result = s3_bundle.publish(build, target(aws, identity))

    assert (result.parts_skipped, result.parts_sent) == (1, 1)
    disk = (build / "disk.raw").read_bytes()
    assert unbundled(s3, result.manifest_key, identity[1], tmp_path / "back.raw") == disk
    # The part kept from the first run is the same bytes the second run would have made.
    part0 = next(k for k in kept if ".part." in k)
    assert objects(s3)[part0] == kept[part0]


def test_a_second_publish_of_the_same_build_reuses_its_image(
    aws: str, s3: Any, build: Path, identity: tuple[Path, Path]
) -> None:
    first = s3_bundle.publish(build, target(aws, identity))
    second = s3_bundle.publish(build, target(aws, identity))
    assert second.reused and second.image_id == first.image_id and second.parts_sent == 0


@pytest.mark.parametrize(
    "fault",
    [{"refuse_after": {"PutObject": 2}}, {"refuse": frozenset({"RegisterImage"})}],
    ids=["part upload", "register"],
)
def test_a_failure_midway_leaves_no_object_and_no_image(
    aws: str, s3: Any, build: Path, identity: tuple[Path, Path], fault: dict[str, Any]
) -> None:
    with FaultProxy(aws, **fault) as proxy, pytest.raises(PublishError):
        s3_bundle.publish(build, target(proxy.url, identity), concurrency=1)
    assert objects(s3) == {}
    assert owned(aws) == ([], [])


def test_a_bucket_with_acls_disabled_is_refused_before_any_upload(
    aws: str, build: Path, identity: tuple[Path, Path]
) -> None:
    s3 = boto3.client("s3", endpoint_url=aws, region_name=REGION)
    s3.create_bucket(Bucket=BUCKET, ObjectOwnership="BucketOwnerEnforced")
    with pytest.raises(PublishError, match="ACLs disabled"):
        s3_bundle.publish(build, target(aws, identity))
    assert objects(s3) == {}


def test_missing_bucket_is_one_sentence(aws: str, build: Path, identity: tuple[Path, Path]) -> None:
    with pytest.raises(PublishError, match="'amis' does not exist"):
        s3_bundle.publish(build, target(aws, identity))


def test_builds_that_instance_store_cannot_boot_are_refused(
    aws: str, s3: Any, tmp_path: Path, identity: tuple[Path, Path]
) -> None:
    uefi = make_build(tmp_path, build_id="20261122-000000-uefi", boot_modes=("uefi",))
    with pytest.raises(PublishError, match="does not boot with BIOS"):
        s3_bundle.publish(uefi, target(aws, identity))
    big = make_build(tmp_path, build_id="20261122-000000-big0")
    rec = record.load(big)
    raw = rec.formats["raw"].model_copy(update={"virtual_size": 11 * 2**30})
    record.write(big, rec.model_copy(update={"formats": {"raw": raw}}))
    with pytest.raises(PublishError, match=r"11\.0 GiB"):
        s3_bundle.publish(big, target(aws, identity))
    assert objects(s3) == {}


def test_a_key_that_is_not_the_certificates_is_refused(
    aws: str, s3: Any, build: Path, identity: tuple[Path, Path], tmp_path: Path
) -> None:
    _, other_key = user_identity(tmp_path)
    with pytest.raises(PublishError, match="is not the key of certificate"):
        s3_bundle.publish(build, target(aws, identity, user_key=str(other_key)))


def test_every_call_is_in_the_iam_policy(
    aws: str, s3: Any, build: Path, identity: tuple[Path, Path]
) -> None:
    rec = Recorder()
    # One publish that fails after registering (so it deletes), one that succeeds.
    with FaultProxy(aws, refuse=frozenset({"CreateTags"})) as proxy, pytest.raises(PublishError):
        s3_bundle.publish(build, target(proxy.url, identity), hooks=rec.hooks)
    s3_bundle.publish(build, target(aws, identity), hooks=rec.hooks)
    assert rec.iam() == table_actions(BUNDLE_ACTIONS)
    assert rec.iam() <= set(actions("publish"))


def test_resume_record_holds_no_usable_secret(
    aws: str, s3: Any, build: Path, identity: tuple[Path, Path]
) -> None:
    result = s3_bundle.publish(build, target(aws, identity))
    resume = next(v for k, v in objects(s3).items() if k.endswith(".shipyard-resume.json"))
    fields = json.loads(resume)
    assert fields["disk_sha256"] == hashlib.sha256((build / "disk.raw").read_bytes()).hexdigest()
    # Sealed for the user's certificate (RSA 2048 → 256 bytes), never the AES key itself.
    assert len(bytes.fromhex(fields["key"])) == 256
    assert result.parts == 2


def test_a_bootstrap_vz_provider_with_s3_backing_publishes_a_bundle(
    aws: str, s3: Any, build: Path, identity: tuple[Path, Path]
) -> None:
    cert, key = identity
    provider = {
        "name": "ec2",
        "region": REGION,
        "backing": "s3",
        "bucket": BUCKET,
        "credentials": {
            "access-key": "testing",
            "secret-key": "testing",
            "certificate": str(cert),
            "private-key": str(key),
            "user-id": ACCOUNT,
        },
    }
    (manifest_target,) = Manifest.model_validate({"provider": provider}).publish
    assert isinstance(manifest_target, Ec2Target)
    endpoint = manifest_target.model_copy(update={"endpoint_url": aws})

    (result,) = publish_targets(build, [endpoint])

    assert result.backing == "s3"
    assert result.image_location == f"{BUCKET}/debian-bookworm-test-amd64.manifest.xml"
    assert "debian-bookworm-test-amd64.manifest.xml" in objects(s3)
