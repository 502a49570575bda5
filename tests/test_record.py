"""The build record: typed sections, unknown keys refused, schema-1 records still read."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from awsloop import make_build

from shipyard import record
from shipyard.catalog.add import amis_of
from shipyard.record_sections import CatalogEntry, EbsPublishEntry, RegionImage, S3PublishEntry

# What Shipyard 0.1 (schema 1) appended after `publish --to ec2 --copy-to eu-west-1`,
# `publish --backing s3`, `run` and `catalog add`, as it wrote them.
SCHEMA_1_SECTIONS: dict[str, Any] = {
    "publish": [
        {
            "target": "ec2",
            "time": "2026-11-22T10:00:00Z",
            "name": "debian-bookworm-test-amd64",
            "region": "us-east-1",
            "image_id": "ami-1",
            "snapshot_id": "snap-1",
            "architecture": "x86_64",
            "boot_mode": "uefi-preferred",
            "images": {
                "us-east-1": {"image_id": "ami-1", "snapshot_id": "snap-1"},
                "eu-west-1": {"image_id": "ami-2", "snapshot_id": "snap-2"},
            },
            "public": False,
            "shared_with": [],
            "deprecate_at": None,
            "reused": False,
            "upload": {
                "blocks_total": 25,
                "blocks_sent": 10,
                "bytes_sent": 5242880,
                "seconds": 0.5,
                "retries": 0,
                "checksum": "abc=",
            },
            "endpoint_url": "http://127.0.0.1:5000",
        },
        {
            "target": "ec2",
            "backing": "s3",
            "time": "2026-11-22T11:00:00Z",
            "name": "debian-bookworm-test-amd64-s3",
            "region": "us-west-2",
            "image_id": "ami-3",
            "image_location": "bucket/x.manifest.xml",
            "bucket": "bucket",
            "manifest_key": "x.manifest.xml",
            "parts": 2,
            "parts_sent": 2,
            "parts_skipped": 0,
            "bytes_sent": 100,
            "bundled_size": 100,
            "architecture": "x86_64",
            "boot_mode": "legacy-bios",
            "reused": False,
            "limits": "instance-store AMIs boot only on older instance families",
        },
    ],
    "runs": [
        {
            "instance_id": "i-0123",
            "accelerator": "tcg",
            "firmware": "uefi",
            "ssh_port": 2222,
            "ssh": "ssh -p 2222 admin@127.0.0.1",
            "console_log": "runs/i-0123/console.log",
            "certificate": "imds.pem",
            "agent": {"step": "ready", "ok": True, "seconds": 0.1, "total": 0.8},
            "ready_seconds": 24.1,
            "outcome": "ready",
            "disk_size": None,
            "finished": "2026-11-22T12:00:00+00:00",
        }
    ],
    "catalog": [
        {
            "store": "/srv/catalog",
            "product_id": "org.shipyard.images:debian:bookworm:amd64:test",
            "version": "20261122",
            "channel": "daily",
            "time": "2026-11-22T13:00:00+00:00",
        }
    ],
}


@pytest.fixture
def build(tmp_path: Path) -> Path:
    return make_build(tmp_path)


def rewrite(build: Path, **changes: Any) -> None:
    file = build / record.RECORD_NAME
    file.write_text(json.dumps({**json.loads(file.read_text()), **changes}))


def test_a_schema_1_record_is_read_with_its_sections(build: Path) -> None:
    rewrite(build, schema=1, **SCHEMA_1_SECTIONS)
    rec = record.load(build)
    ebs, s3 = rec.publish
    assert isinstance(ebs, EbsPublishEntry) and isinstance(s3, S3PublishEntry)
    assert ebs.images["eu-west-1"] == RegionImage(image_id="ami-2", snapshot_id="snap-2")
    assert s3.images == {"us-west-2": RegionImage(image_id="ami-3")}
    assert rec.runs[0].agent is not None and rec.runs[0].agent.step == "ready"
    assert rec.catalog[0].version == "20261122"
    amis = amis_of(rec)
    assert {r: a.id for r, a in amis.items()} == {
        "us-east-1": "ami-1",
        "eu-west-1": "ami-2",
        "us-west-2": "ami-3",
    }
    assert amis["us-west-2"].root_store == "instance-store"


def test_appending_to_a_schema_1_record_writes_schema_2_and_keeps_everything(
    build: Path,
) -> None:
    rewrite(build, schema=1, **SCHEMA_1_SECTIONS)
    entry = CatalogEntry(
        store="/srv/other", product_id="p", version="20261123", channel="stable", time="t"
    )
    record.append(build, entry)
    data = json.loads((build / record.RECORD_NAME).read_text())
    assert data["schema"] == record.SCHEMA_VERSION == 2
    assert len(data["publish"]) == 2 and len(data["runs"]) == 1
    assert [c["store"] for c in data["catalog"]] == ["/srv/catalog", "/srv/other"]
    assert record.load(build).catalog[-1] == entry


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"ami_report": []}, "ami_report: Extra inputs are not permitted"),
        ({"publish": [{"target": "ec2", "ami_id": "ami-1"}]}, "publish.0.ebs.time: Field required"),
        ({"schema": 3}, "schema 3 is newer than this Shipyard reads"),
    ],
)
def test_unknown_keys_and_newer_schemas_are_refused_with_where(
    build: Path, changes: dict[str, Any], message: str
) -> None:
    rewrite(build, **changes)
    with pytest.raises(record.BuildRecordError, match=message):
        record.load(build)
