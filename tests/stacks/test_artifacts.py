"""Artifacts: a folder zipped by content, uploaded once, its key passed as a parameter."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from awsloop import REGION

from shipyard.cli.main import main
from shipyard.stacks.artifacts import upload_artifacts, zip_folder
from shipyard.stacks.files import load_stack_file

TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  DockerZip: {Type: String}
Resources:
  Group:
    Type: AWS::EC2::SecurityGroup
    Properties: {GroupDescription: app}
Outputs:
  Key: {Value: !Ref DockerZip, Description: the zip}
"""


class Counting:
    """An S3 client that counts the objects it puts."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.puts = 0

    def __getattr__(self, name: str) -> Any:
        if name == "put_object":
            self.puts += 1
        return getattr(self.client, name)


def test_the_same_files_make_the_same_zip(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "Dockerfile").write_text("FROM debian:bookworm\n")
    first = zip_folder(tmp_path / "a")
    (tmp_path / "a" / "Dockerfile").touch()  # a new time, same content
    assert zip_folder(tmp_path / "a") == first


def test_an_unchanged_folder_is_not_uploaded_again(aws: str, tmp_path: Path) -> None:
    s3 = boto3.client("s3", region_name=REGION, endpoint_url=aws)
    s3.create_bucket(Bucket="apps")
    (tmp_path / "docker").mkdir()
    (tmp_path / "docker" / "Dockerfile").write_text("FROM debian:bookworm\n")
    (tmp_path / "s.yml").write_text(
        "name: app\ntemplate: t.yml\nartifacts: {DockerZip: {folder: docker/, bucket: apps}}\n"
    )
    definition = load_stack_file(tmp_path / "s.yml")
    counting = Counting(s3)
    first = upload_artifacts(definition, counting, lambda name: None)
    again = upload_artifacts(definition, counting, lambda name: None)
    assert first == again and counting.puts == 1
    (tmp_path / "docker" / "Dockerfile").write_text("FROM debian:trixie\n")
    changed = upload_artifacts(definition, counting, lambda name: None)
    assert changed["DockerZip"] != first["DockerZip"] and counting.puts == 2
    assert first["DockerZip"].startswith("artifacts/DockerZip/")


def test_deploy_uploads_to_another_stacks_bucket_and_passes_the_key(
    aws: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "docker").mkdir()
    (tmp_path / "docker" / "Dockerfile").write_text("FROM debian:bookworm\n")
    stacks = tmp_path / "stacks"
    stacks.mkdir()
    (tmp_path / "t.yml").write_text(TEMPLATE)
    (stacks / "bucket.yml").write_text("name: artifacts\nrecipe: s3\nregion: us-east-1\n")
    (stacks / "app.yml").write_text(
        "name: app\ntemplate: ../t.yml\nregion: us-east-1\n"
        "artifacts: {DockerZip: {folder: ../docker, "
        "bucket: {stack: artifacts, output: BucketName}}}\n"
    )
    base = ["--dir", str(stacks), "--endpoint-url", aws, "--yes", "--json"]
    assert main(["stacks", "deploy", "artifacts", *base]) == 0
    bucket = json.loads(capsys.readouterr().out)["outputs"]["BucketName"]
    assert main(["stacks", "deploy", "app", *base]) == 0
    key = json.loads(capsys.readouterr().out)["outputs"]["Key"]
    s3 = boto3.client("s3", region_name=REGION, endpoint_url=aws)
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    assert body == zip_folder(tmp_path / "docker")
