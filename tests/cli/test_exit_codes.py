"""The exit-code table: one per kind of failure, shown in `shipyard --help`."""

from __future__ import annotations

import subprocess
import sys

from shipyard.errors import (
    EXIT_CODES,
    AWSError,
    CatalogNotFound,
    Conflict,
    ManifestError,
    NotFound,
    ServeError,
    ShipyardError,
    UsageError,
    exit_code_for,
)


def test_every_error_maps_to_a_documented_code() -> None:
    assert exit_code_for(AWSError("x")) == 1
    assert exit_code_for(ManifestError("x")) == 2
    assert exit_code_for(UsageError("x")) == 2
    assert exit_code_for(ServeError("x")) == 3
    assert exit_code_for(NotFound("x")) == exit_code_for(CatalogNotFound("x")) == 4
    assert exit_code_for(Conflict("x")) == 5
    assert exit_code_for(KeyboardInterrupt()) == 130
    seen = {
        exit_code_for(cls("x"))
        for cls in _all(ShipyardError)
        if cls.__init__ is ShipyardError.__init__
    }
    assert seen <= set(EXIT_CODES)


def _all(cls: type[ShipyardError]) -> list[type[ShipyardError]]:
    out = [cls]
    for sub in cls.__subclasses__():
        out += _all(sub)
    return out


def test_help_shows_the_table() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "shipyard.cli.main", "--help"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    for code, meaning in EXIT_CODES.items():
        assert f"{code}" in out and meaning in out
