"""`shipyard publish --to ec2` as a user runs it: a real process against moto on loopback."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from awsloop import CREDENTIALS, REGION, FaultProxy, clients, make_build, owned, read_snapshot

from shipyard.aws.ami import BUILD_TAG, SNAPSHOT_TAG, image_snapshots, tags_of


def shipyard(*args: str) -> list[str]:
    return [sys.executable, "-m", "shipyard.cli.main", *args]


def env() -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    return {**keep, **CREDENTIALS}


def publish(build: Path, url: str, *extra: str) -> subprocess.CompletedProcess[str]:
    argv = shipyard(
        "publish", str(build), "--to", "ec2", "--region", REGION, "--endpoint-url", url, *extra
    )
    return subprocess.run(argv, env=env(), capture_output=True, text=True, timeout=300)


def start_slow_publish(build: Path, proxy: FaultProxy) -> subprocess.Popen[str]:
    """A publish whose upload is under way (some blocks sent, most not) when this returns."""
    argv = shipyard(
        "publish",
        str(build),
        "--to",
        "ec2",
        "--region",
        REGION,
        "--endpoint-url",
        proxy.url,
        "--concurrency",
        "2",
    )
    proc = subprocess.Popen(
        argv, env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 120
    while proxy.operations["PutSnapshotBlock"] < 6:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the upload did not start"
        time.sleep(0.05)
    return proc


def test_last_line_is_the_ami_id_and_json_has_the_results(aws: str, tmp_path: Path) -> None:
    build = make_build(tmp_path)
    plain = publish(build, aws)
    assert plain.returncode == 0, plain.stderr
    ami = plain.stdout.strip().splitlines()[-1]
    assert ami.startswith("ami-")

    as_json = publish(build, aws, "--json")
    assert as_json.returncode == 0, as_json.stderr
    document = json.loads(as_json.stdout)
    assert document["image_id"] == ami and document["reused"] is True
    assert document["images"][REGION]["image_id"] == ami


def test_a_name_conflict_is_one_sentence(aws: str, tmp_path: Path) -> None:
    other = make_build(tmp_path, build_id="20261121-000000-ffff")
    assert publish(other, aws, "--name", "debian-bookworm-test-amd64").returncode == 0
    build = make_build(tmp_path)
    result = publish(build, aws)
    assert result.returncode == 1
    first = result.stderr.strip().splitlines()[0]
    assert first.startswith("shipyard: error: an AMI named 'debian-bookworm-test-amd64' already")
    assert "Traceback" not in result.stderr
    assert "--force" in result.stderr


def test_bad_arguments_are_usage_errors(aws: str, tmp_path: Path) -> None:
    build = make_build(tmp_path)
    result = publish(build, aws, "--share-with", "alice")
    assert result.returncode == 2
    assert "is not an AWS account id" in result.stderr


@pytest.mark.parametrize(
    ("to", "message"),
    [
        ("ec2,ec2", "'ec2,ec2' names a target twice"),
        ("ec2,s3", "'ec2,s3': expected ec2 or catalog, or both separated by a comma"),
        (",", "',': expected ec2 or catalog"),
    ],
)
def test_to_takes_known_targets_each_once(tmp_path: Path, to: str, message: str) -> None:
    build = make_build(tmp_path)
    result = subprocess.run(
        shipyard("publish", str(build), "--to", to),
        env=env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("signum", "message"),
    [(signal.SIGTERM, "stopped by signal SIGTERM"), (signal.SIGINT, "interrupted")],
)
def test_stopping_during_upload_leaves_nothing_behind(
    aws: str, tmp_path: Path, signum: int, message: str
) -> None:
    build = make_build(tmp_path, size=48 * 2**20, data_blocks=60)
    with FaultProxy(aws, delay=0.2) as proxy:
        proc = start_slow_publish(build, proxy)
        proc.send_signal(signum)
        _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert message in stderr
    assert owned(aws) == ([], [])


def test_rerun_after_a_crash_makes_one_ami_and_leaves_no_stray_snapshot(
    aws: str, tmp_path: Path
) -> None:
    build = make_build(tmp_path, size=48 * 2**20, data_blocks=60)
    with FaultProxy(aws, delay=0.2) as proxy:
        proc = start_slow_publish(build, proxy)
        proc.kill()  # no chance to clean up: what a crash or power loss leaves
        proc.wait(timeout=30)
    _, (stray,) = owned(aws)
    assert tags_of(stray)[BUILD_TAG] == "20261122-000000-abcd"

    result = publish(build, aws)
    assert result.returncode == 0, result.stderr
    again = publish(build, aws)
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines()[-1] == result.stdout.splitlines()[-1]

    images, snapshots = owned(aws)
    assert len(images) == 1
    assert tags_of(images[0])[BUILD_TAG] == "20261122-000000-abcd"
    behind = set(image_snapshots(images[0]))
    assert {s["SnapshotId"] for s in snapshots} <= behind
    uploaded = tags_of(images[0])[SNAPSHOT_TAG]
    assert uploaded in {s["SnapshotId"] for s in snapshots}
    assert stray["SnapshotId"] not in {s["SnapshotId"] for s in snapshots}
    disk = build / "disk.raw"
    content, _ = read_snapshot(clients(aws)[1], uploaded, disk.stat().st_size)
    assert content == disk.read_bytes()


@pytest.mark.parametrize("url", ["notaurl", "ftp://127.0.0.1:21", "http://127.0.0.1:99999"])
def test_an_endpoint_that_is_not_a_url_is_one_sentence_and_exit_2(url: str, tmp_path: Path) -> None:
    result = publish(make_build(tmp_path), url)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith(f"shipyard: error: AWS endpoint {url!r} is not an http")
    assert "hint:" in result.stderr


def test_an_endpoint_nothing_listens_on_fails_in_seconds_with_a_hint(tmp_path: Path) -> None:
    import socket

    with socket.socket() as sock:  # a port that was free a moment ago, and is closed now
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    started = time.monotonic()
    result = publish(make_build(tmp_path), f"http://127.0.0.1:{port}")
    assert time.monotonic() - started < 15
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert f"AWS endpoint http://127.0.0.1:{port} does not answer" in result.stderr
    assert "shipyard aws local" in result.stderr


def test_deprecate_in_where_the_endpoint_cannot_is_one_sentence(aws: str, tmp_path: Path) -> None:
    # moto answers EnableImageDeprecation with a 500 and an HTML page.
    result = publish(make_build(tmp_path), aws, "--deprecate-in", "30")
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("shipyard: error:")]
    assert len(errors) == 1 and "EnableImageDeprecation" in errors[0], result.stderr
