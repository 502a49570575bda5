"""`iam-policy --for catalog` allows exactly what the catalog calls on EC2 and S3."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import boto3
from awsloop import Recorder

from shipyard.aws.iam import actions
from shipyard.aws.session import AwsSettings, client, make_session
from shipyard.catalog import resolve, sign
from shipyard.catalog.add import add_build
from shipyard.catalog.ec2 import client_factory
from shipyard.catalog.lifecycle import prune
from shipyard.catalog.store_s3 import S3Store
from shipyard.manifest.schema import Ec2Target
from shipyard.publish import ec2 as ec2_publish

BuildMaker = Callable[..., Path]
REGION = "us-east-1"


def test_every_catalog_call_is_in_the_policy_and_the_policy_holds_nothing_else(
    aws: str, make_build: BuildMaker, gpg_home: Path, tmp_path: Path
) -> None:
    rec = Recorder()
    boto3.client("s3", endpoint_url=aws, region_name=REGION).create_bucket(Bucket="images")
    settings = AwsSettings(region=REGION, endpoint_url=aws)
    store = S3Store("images", "catalog", client(make_session(settings, rec.hooks), "s3", settings))
    # Images over the multipart threshold (8 MiB), so they go up in parts.
    big = os.urandom(9 * 2**20)
    old = make_build(created="2026-11-01T10:00:00+00:00", content=big)
    ec2_publish.publish(old, Ec2Target(to="ec2", region=REGION, endpoint_url=aws), progress=False)
    boto3.client("ec2", endpoint_url=aws, region_name=REGION).create_launch_template(
        LaunchTemplateName="other", LaunchTemplateData={"ImageId": "ami-12345678"}
    )

    add_build(store, old, home=gpg_home)
    add_build(store, make_build(created="2026-11-02T10:00:00+00:00"), home=gpg_home)
    resolve.view_from_store(store, sign.verifier(gpg_home))
    result = prune(store, keep=1, ec2=client_factory(aws, hooks=rec.hooks), home=gpg_home)
    assert [r.version for r in result.removed] == ["20261101"]

    policy = set(actions("catalog"))
    assert rec.iam() <= policy
    # An upload in parts is aborted only when it fails.
    assert policy - rec.iam() == {"s3:AbortMultipartUpload"}
    assert "ec2:RegisterImage" not in policy and "s3:PutObjectAcl" not in policy
