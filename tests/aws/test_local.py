"""`shipyard aws local` serves a local EC2/EBS endpoint on loopback."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request

from awsloop import CREDENTIALS, free_port


def test_aws_local_serves_ec2_until_interrupted() -> None:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "shipyard.cli.main", "aws", "local", "--port", str(port)],
        env={**os.environ, **CREDENTIALS},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/moto-api/", timeout=1).close()
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline
                time.sleep(0.2)
        import boto3

        ec2 = boto3.Session(
            region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing"
        ).client("ec2", endpoint_url=f"http://127.0.0.1:{port}")
        assert "Regions" in ec2.describe_regions()
    finally:
        # Ctrl-C reaches the whole process group, as in a terminal.
        os.killpg(proc.pid, signal.SIGINT)
        _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 0
    assert f"http://127.0.0.1:{port}" in stderr
