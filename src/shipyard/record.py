"""The build record: ``<build dir>/build.json``.

Written by ``shipyard build``; every later step (run, publish, catalog) reads it and
appends what it did under its own key (``runs``, ``publish``, ``catalog``) through
:func:`append`, which locks the file so concurrent steps lose nothing.
"""

from __future__ import annotations

import fcntl
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shipyard.errors import ShipyardError

RECORD_NAME = "build.json"
SCHEMA_VERSION = 1


class BuildRecordError(ShipyardError):
    """A build directory or its build.json is missing or unreadable."""


class Artifact(BaseModel):
    """One output file of a build, path relative to the build directory."""

    model_config = ConfigDict(frozen=True)

    format: str
    path: str
    size: int  # apparent size in bytes
    allocated: int  # bytes allocated on disk
    virtual_size: int  # size of the disk the guest sees
    sha256: str


class Partition(BaseModel):
    model_config = ConfigDict(frozen=True)

    number: int
    name: str
    type: str  # GPT type GUID
    uuid: str  # partition GUID
    start: int  # bytes
    size: int  # bytes
    filesystem: str | None = None
    fs_uuid: str | None = None
    label: str | None = None


class StageTiming(BaseModel):
    model_config = ConfigDict(frozen=True)

    seconds: float
    cached: bool = False


class BuildRecord(BaseModel):
    """What build.json holds. Sections added by later steps are kept as extra keys."""

    model_config = ConfigDict(extra="allow")

    schema_version: int = Field(default=SCHEMA_VERSION, alias="schema")
    id: str
    name: str
    status: str  # building | complete | failed
    created: str
    finished: str | None = None
    error: str | None = None
    manifest_path: str
    manifest_sha256: str
    manifest: dict[str, Any]
    release: str
    architecture: str
    flavour: str
    agent: str
    boot_modes: list[str]
    disk_size: int = 0
    partitions: list[Partition] = []
    formats: dict[str, Artifact] = {}
    kernel: str | None = None
    packages: dict[str, str] = {}
    stages: dict[str, StageTiming] = {}
    tools: dict[str, str] = {}
    cache: dict[str, Any] = {}

    def artifact(self, fmt: str = "raw") -> Artifact:
        try:
            return self.formats[fmt]
        except KeyError:
            raise BuildRecordError(
                f"build {self.id} has no {fmt} image (it has: {', '.join(self.formats) or 'none'})"
            ) from None

    def root_partition(self) -> Partition:
        for part in self.partitions:
            if part.name == "root":
                return part
        raise BuildRecordError(f"build {self.id} records no root partition")


def find_build(arg: str | os.PathLike[str]) -> Path:
    """The build directory named by ``arg`` (a directory or its build.json)."""
    path = Path(arg)
    if path.name == RECORD_NAME:
        path = path.parent
    if not (path / RECORD_NAME).is_file():
        if not path.exists():
            raise BuildRecordError(f"{arg}: no such build directory")
        raise BuildRecordError(f"{arg}: not a build directory (it has no {RECORD_NAME})")
    return path


def load(build_dir: str | os.PathLike[str]) -> BuildRecord:
    """Read and validate a build's record."""
    directory = find_build(build_dir)
    file = directory / RECORD_NAME
    try:
        data = json.loads(file.read_text())
        return BuildRecord.model_validate(data)
    except (OSError, json.JSONDecodeError) as exc:
        raise BuildRecordError(f"{file}: cannot read the build record: {exc}") from exc
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise BuildRecordError(f"{file}: {where}: {first['msg']}") from exc


def dump(record: BuildRecord) -> dict[str, Any]:
    return record.model_dump(mode="json", by_alias=True)


def write(build_dir: Path, record: BuildRecord | dict[str, Any]) -> None:
    """Replace build.json atomically."""
    data = dump(record) if isinstance(record, BuildRecord) else record
    _atomic_write_json(build_dir / RECORD_NAME, data)


@contextmanager
def locked(build_dir: Path) -> Iterator[None]:
    """Hold the build's record lock (an flock on ``.build.json.lock``)."""
    with open(build_dir / f".{RECORD_NAME}.lock", "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def append(build_dir: str | os.PathLike[str], section: str, entry: dict[str, Any]) -> None:
    """Append ``entry`` to the list ``section`` of a build's record, under its lock."""
    directory = find_build(build_dir)
    with locked(directory):
        file = directory / RECORD_NAME
        data = json.loads(file.read_text())
        existing = data.get(section)
        if existing is None:
            data[section] = [entry]
        elif isinstance(existing, list):
            existing.append(entry)
        else:
            raise BuildRecordError(f"{file}: {section!r} is not a list; refusing to overwrite it")
        _atomic_write_json(file, data)


def _atomic_write_json(file: Path, data: dict[str, Any]) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{file.name}.", dir=file.parent)
    try:
        os.fchmod(fd, 0o644)
        with os.fdopen(fd, "w") as fh:
            json.dump(data, fh, indent=2, sort_keys=False)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, file)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
