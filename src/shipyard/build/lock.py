"""shipyard.lock: every package a build installed, so a later build can be held to it.

Every build writes one into its directory; ``shipyard build --lock`` keeps it beside the
manifest, and ``--locked`` refuses a build whose packages differ from it (a mirror that
moved on, a manifest that changed). Pin the mirror itself with a snapshot URL
(``system.mirror: https://snapshot.debian.org/archive/debian/20261201T000000Z``) so a
locked build can still fetch those versions.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shipyard.build.dpkg_status import InstalledPackage
from shipyard.errors import BuildError, UsageError
from shipyard.files import write_atomic
from shipyard.validation_text import first_problem

LOCK_NAME = "shipyard.lock"
LOCK_LIMIT = 16 * 1024 * 1024


class LockedPackage(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9+.-]*$", max_length=200)
    version: str = Field(pattern=r"^[A-Za-z0-9.+~:-]+$", max_length=200)
    architecture: str = Field(pattern=r"^[a-z0-9-]+$", max_length=40)
    sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")


class Lock(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    format: int = Field(default=1, ge=1, le=1)
    packages: tuple[LockedPackage, ...]


def lock_of(installed: Iterable[InstalledPackage]) -> Lock:
    return Lock(
        packages=tuple(
            LockedPackage(
                name=p.name, version=p.version, architecture=p.architecture, sha256=p.deb_sha256
            )
            for p in sorted(installed, key=lambda p: (p.name, p.architecture))
        )
    )


def write_lock(path: Path, lock: Lock) -> None:
    write_atomic(path, json.dumps(lock.model_dump(), indent=1) + "\n")


def read_lock(path: Path) -> Lock:
    """The lock in ``path``; UsageError naming the file and the key when it is not one."""
    try:
        if path.stat().st_size > LOCK_LIMIT:
            raise UsageError(f"{path}: a lock file of more than 16 MiB is not one Shipyard wrote")
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(
            f"{path}: no such lock file", hint="a build writes one as shipyard.lock in its folder"
        ) from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise UsageError(f"{path}: not a lock file ({exc})") from None
    try:
        return Lock.model_validate(data)
    except ValidationError as exc:
        raise UsageError(f"{path}: {first_problem(exc.errors())}") from None


def check_locked(lock: Lock, installed: Iterable[InstalledPackage]) -> None:
    """BuildError naming the first package that differs from the lock, and how."""
    wanted = {(p.name, p.architecture): p for p in lock.packages}
    got = {(p.name, p.architecture): p for p in installed}
    for key in sorted(wanted.keys() | got.keys()):
        old, new = wanted.get(key), got.get(key)
        name = f"{key[0]}:{key[1]}"
        if new is None:
            problem = f"{name} {old.version if old else ''} is locked but was not installed"
        elif old is None:
            problem = f"{name} {new.version} was installed but is not in the lock"
        elif old.version != new.version:
            problem = f"{name} is locked at {old.version} but {new.version} was installed"
        elif old.sha256 and new.deb_sha256 and old.sha256 != new.deb_sha256:
            problem = f"{name} {new.version} was installed from a .deb other than the locked one"
        else:
            continue
        raise BuildError(
            f"the build differs from its lock: {problem}",
            hint="pin the mirror to a snapshot of the lock's day, or write the lock anew",
        )
