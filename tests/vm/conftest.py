"""Fixtures for the metadata emulator: one signing key per session, a server per test."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest

from shipyard.vm.identity import Signer, load_signer
from shipyard.vm.imds import ImdsServer, serve
from shipyard.vm.metadata import Instance


@pytest.fixture(scope="session")
def signer(tmp_path_factory: pytest.TempPathFactory) -> Signer:
    return load_signer(tmp_path_factory.mktemp("imds-key"))


@pytest.fixture(scope="session")
def public_key(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A real OpenSSH public key line."""
    key = tmp_path_factory.mktemp("ssh") / "id_ed25519"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "user@laptop", "-f", str(key)],
        check=True,
    )
    return key.with_suffix(".pub").read_text().strip()


@pytest.fixture
def instance(public_key: str) -> Instance:
    return Instance(public_keys=(public_key,), user_data=b"#!/bin/sh\necho hi\n")


@pytest.fixture
def imds(instance: Instance, signer: Signer) -> Iterator[ImdsServer]:
    with serve(instance, signer) as server:
        yield server
