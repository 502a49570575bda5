"""The build record: ``<build dir>/build.json``.

Written by ``shipyard build``; every later step (run, publish, catalog) reads it and
appends what it did under its own key (``runs``, ``publish``, ``catalog``) through
:func:`append`, which locks the file so concurrent steps lose nothing. Schema 1 kept
those sections as untyped extra keys; it is still read, and upgraded when next written.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from shipyard.errors import NotFound, ShipyardError
from shipyard.files import write_atomic
from shipyard.record_sections import (
    CatalogEntry,
    EbsPublishEntry,
    PublishEntry,
    RunEntry,
    S3PublishEntry,
)

RECORD_NAME = "build.json"
SCHEMA_VERSION = 2

SectionEntry = EbsPublishEntry | S3PublishEntry | RunEntry | CatalogEntry


class BuildRecordError(ShipyardError):
    """A build directory or its build.json is missing or unreadable."""


class BuildNotFound(BuildRecordError, NotFound):
    """No build directory where one was named."""


class Artifact(BaseModel):
    """One output file of a build, path relative to the build directory."""

    model_config = ConfigDict(frozen=True)

    format: str
    path: str
    size: int  # apparent size in bytes
    allocated: int  # bytes allocated on disk
    virtual_size: int  # size of the disk the guest sees
    sha256: str


class SbomFile(BaseModel):
    """A bill of materials in the build directory, path relative to it."""

    model_config = ConfigDict(frozen=True)

    format: str  # cyclonedx-1.5 | spdx-2.3
    path: str
    sha256: str


class ProvenanceFile(BaseModel):
    """The build's in-toto provenance and its detached signature, if signed."""

    model_config = ConfigDict(frozen=True)

    path: str
    sha256: str
    signature: str | None = None


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
    """What build.json holds, the sections later steps append included; nothing else."""

    model_config = ConfigDict(extra="forbid")

    schema_version: int = Field(default=SCHEMA_VERSION, alias="schema")
    id: str
    name: str
    status: str  # building | complete | failed
    created: str
    finished: str | None = None
    pid: int | None = None  # the building process, while status is building
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
    sbom: list[SbomFile] = []
    provenance: ProvenanceFile | None = None
    stages: dict[str, StageTiming] = {}
    tools: dict[str, str] = {}
    cache: dict[str, Any] = {}
    publish: list[PublishEntry] = []
    runs: list[RunEntry] = []
    catalog: list[CatalogEntry] = []

    @model_validator(mode="before")
    @classmethod
    def _upgrade(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        version = data.get("schema", SCHEMA_VERSION)
        if isinstance(version, int) and version > SCHEMA_VERSION:
            raise ValueError(
                f"schema {version} is newer than this Shipyard reads ({SCHEMA_VERSION})"
            )
        if version == 1:
            return _from_schema_1(data)
        return data

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


def _from_schema_1(data: dict[str, Any]) -> dict[str, Any]:
    """A schema-1 record as schema 2: its publish entries gain what schema 2 requires."""
    upgraded = {**data, "schema": SCHEMA_VERSION}
    entries = data.get("publish")
    if isinstance(entries, list):
        upgraded["publish"] = [_publish_from_schema_1(e) for e in entries]
    return upgraded


def _publish_from_schema_1(entry: Any) -> Any:
    if not isinstance(entry, dict):
        return entry
    entry = dict(entry)
    entry.setdefault("backing", "ebs")
    if entry["backing"] == "s3":
        entry.pop("limits", None)  # a fixed sentence, not a fact about this build
        if "images" not in entry and "region" in entry and "image_id" in entry:
            entry["images"] = {entry["region"]: {"image_id": entry["image_id"]}}
    return entry


def find_build(arg: str | os.PathLike[str]) -> Path:
    """The build directory named by ``arg`` (a directory or its build.json)."""
    path = Path(arg)
    if path.name == RECORD_NAME:
        path = path.parent
    if not (path / RECORD_NAME).is_file():
        if not path.exists():
            raise BuildNotFound(f"{arg}: no such build directory")
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
        prefix = f"{file}: {where}" if where else str(file)
        raise BuildRecordError(f"{prefix}: {first['msg']}") from exc


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


def section_of(entry: SectionEntry) -> str:
    """The section of the build record an entry belongs to."""
    if isinstance(entry, RunEntry):
        return "runs"
    if isinstance(entry, CatalogEntry):
        return "catalog"
    return "publish"


def append(build_dir: str | os.PathLike[str], entry: SectionEntry) -> BuildRecord:
    """Append ``entry`` to its section of a build's record, under its lock; the new record."""
    directory = find_build(build_dir)
    with locked(directory):
        rec = load(directory)
        section = section_of(entry)
        updated = rec.model_copy(update={section: [*getattr(rec, section), entry]})
        write(directory, updated)
    return updated


def _atomic_write_json(file: Path, data: dict[str, Any]) -> None:
    write_atomic(file, json.dumps(data, indent=2, sort_keys=False) + "\n")
