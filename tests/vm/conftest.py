"""Fixtures for the metadata emulator: one signing key per session, a server per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from shipyard.vm.identity import Signer
from shipyard.vm.imds import ImdsServer, serve
from shipyard.vm.metadata import Instance


@pytest.fixture
def instance(public_key: str) -> Instance:
    return Instance(public_keys=(public_key,), user_data=b"#!/bin/sh\necho hi\n")


@pytest.fixture
def imds(instance: Instance, signer: Signer) -> Iterator[ImdsServer]:
    with serve(instance, signer) as server:
        yield server
