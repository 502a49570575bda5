"""Fixtures for the boot tests: a key pair and SSH logins. Images come from ``build_image``."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def ssh_key(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh private key; its public half is ``.pub`` beside it."""
    key = tmp_path_factory.mktemp("ssh") / "id_ed25519"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "e2e", "-f", str(key)], check=True
    )
    return key


SSH_OPTIONS = [
    "-o", "StrictHostKeyChecking=no",
    "-o", "UserKnownHostsFile=/dev/null",
    "-o", "BatchMode=yes",
    "-o", "ConnectTimeout=10",
    "-o", "LogLevel=ERROR",
]  # fmt: skip


def _ssh(
    port: int, key: Path, command: str, *, user: str = "admin", wait: float = 0
) -> subprocess.CompletedProcess[str]:
    """Run ``command`` over SSH with ``key``; with ``wait``, retry until sshd lets us in."""
    argv = ["ssh", "-p", str(port), "-i", str(key), *SSH_OPTIONS, f"{user}@127.0.0.1", command]
    deadline = time.monotonic() + wait
    while True:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
        if result.returncode != 255 or time.monotonic() > deadline:
            return result
        time.sleep(2)


def _password_login(port: int, user: str = "admin") -> subprocess.CompletedProcess[str]:
    """Try to log in with a password only (none is typed: BatchMode refuses to prompt)."""
    argv = [
        "ssh", "-p", str(port), *SSH_OPTIONS,
        "-o", "PubkeyAuthentication=no",
        "-o", "PreferredAuthentications=password,keyboard-interactive",
        f"{user}@127.0.0.1", "true",
    ]  # fmt: skip
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)


@pytest.fixture(scope="session")
def ssh() -> Callable[..., subprocess.CompletedProcess[str]]:
    """``ssh(port, key, command, user="admin", wait=0)``: run a command in the guest."""
    return _ssh


@pytest.fixture(scope="session")
def password_login() -> Callable[..., subprocess.CompletedProcess[str]]:
    """``password_login(port)``: try a password-only login."""
    return _password_login
