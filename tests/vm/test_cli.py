"""``shipyard run`` and ``shipyard imds serve`` as a user meets them."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import httpx

SHIPYARD = [sys.executable, "-m", "shipyard.cli.main"]


def shipyard(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*SHIPYARD, *args], capture_output=True, text=True, check=False)


def test_run_on_something_that_is_not_a_build(tmp_path: Path) -> None:
    result = shipyard("run", str(tmp_path / "missing"))
    assert result.returncode != 0
    assert result.stderr.startswith("shipyard: error: ")
    assert "Traceback" not in result.stderr
    assert "no such build directory" in result.stderr


def test_run_refuses_a_bad_disk_size(tmp_path: Path) -> None:
    result = shipyard("run", str(tmp_path), "--disk-size", "lots")
    assert result.returncode == 2
    assert "--disk-size lots" in result.stderr


def test_imds_serve_answers_on_loopback(tmp_path: Path, public_key: str) -> None:
    key = tmp_path / "key.pub"
    key.write_text(public_key + "\n")
    process = subprocess.Popen(
        [*SHIPYARD, "imds", "serve", "--ssh-key", str(key)],
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "XDG_STATE_HOME": str(tmp_path / "state")},
    )
    try:
        assert process.stderr is not None
        line = process.stderr.readline()
        match = re.search(r"serving instance (i-[0-9a-f]+) on (http://127\.0\.0\.1:\d+)", line)
        assert match, line
        url = match[2]
        token = httpx.put(
            f"{url}/latest/api/token", headers={"X-aws-ec2-metadata-token-ttl-seconds": "60"}
        ).text
        got = httpx.get(
            f"{url}/latest/meta-data/public-keys/0/openssh-key",
            headers={"X-aws-ec2-metadata-token": token},
        )
        assert got.text == public_key
        assert "certificate.pem" in process.stderr.readline()
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_run_and_imds_serve_refuse_a_tag_ec2_would_not_serve(tmp_path: Path) -> None:
    for argv in (("run", str(tmp_path)), ("imds", "serve")):
        result = shipyard(*argv, "--tag", "team/name=x")
        assert result.returncode == 2
        assert "tag key 'team/name' cannot be served as instance metadata" in result.stderr
        assert shipyard(*argv, "--tag", "novalue").returncode == 2
