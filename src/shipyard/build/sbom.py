"""The image's bill of materials: ``sbom.cdx.json`` (CycloneDX 1.5) in the build directory.

``sbom.spdx.json`` (SPDX 2.3, see sbom_spdx) says the same beside it.

Made with cyclonedx-python-lib, never by hand: every Debian package dpkg installed (name,
version, architecture, source package, purl, licence where the package states it in a
machine-readable copyright file, sha256 of its .deb when the cache has it), and the
files provision ``file:`` steps put in the image.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cyclonedx.model import HashAlgorithm, HashType, Property
from cyclonedx.model.bom import Bom, BomMetaData
from cyclonedx.model.component import Component, ComponentType
from cyclonedx.model.license import DisjunctiveLicense
from cyclonedx.output.json import JsonV1Dot5
from packageurl import PackageURL

from shipyard import __version__
from shipyard.build.context import AddedFile
from shipyard.build.dpkg_status import InstalledPackage
from shipyard.checksum import sha256_file
from shipyard.record import SbomFile

CYCLONEDX_NAME = "sbom.cdx.json"
# Serial numbers are derived from the build id, so the same build always says the same.
SERIAL_NAMESPACE = uuid.UUID("5c7d1f4e-3b59-4d0f-9a7e-2f6b8e1c0a93")


@dataclass(frozen=True)
class SbomSubject:
    """The image the bill of materials describes, and what it holds."""

    name: str
    build_id: str
    release: str
    created: datetime
    packages: tuple[InstalledPackage, ...]
    files: tuple[AddedFile, ...] = ()


def package_purl(package: InstalledPackage, release: str) -> PackageURL:
    return PackageURL(
        type="deb",
        namespace="debian",
        name=package.name,
        version=package.version,
        qualifiers={"arch": package.architecture, "distro": f"debian-{release}"},
    )


def cyclonedx_bom(subject: SbomSubject) -> Bom:
    image = Component(
        name=subject.name,
        version=subject.build_id,
        type=ComponentType.OPERATING_SYSTEM,
        bom_ref=f"image:{subject.build_id}",
        description=f"Debian {subject.release} machine image built by Shipyard",
    )
    tool = Component(name="shipyard", version=__version__, type=ComponentType.APPLICATION)
    metadata = BomMetaData(component=image, timestamp=subject.created)
    metadata.tools.components.add(tool)
    bom = Bom(
        serial_number=uuid.uuid5(SERIAL_NAMESPACE, subject.build_id),
        metadata=metadata,
        components=[
            *(_package_component(p, subject.release) for p in subject.packages),
            *(_file_component(f) for f in subject.files),
        ],
    )
    bom.register_dependency(image, bom.components)
    return bom


def _package_component(package: InstalledPackage, release: str) -> Component:
    purl = package_purl(package, release)
    properties = [
        Property(name="shipyard:deb:architecture", value=package.architecture),
        Property(name="shipyard:deb:source", value=package.source),
        Property(name="shipyard:deb:source_version", value=package.source_version),
    ]
    return Component(
        name=package.name,
        version=package.version,
        type=ComponentType.LIBRARY,
        bom_ref=purl.to_string(),
        purl=purl,
        publisher="Debian",
        licenses=[DisjunctiveLicense(name=package.license)] if package.license else [],
        hashes=_sha256(package.deb_sha256),
        properties=properties,
    )


def _file_component(added: AddedFile) -> Component:
    return Component(
        name=added.path,
        type=ComponentType.FILE,
        bom_ref=f"file:{added.path}",
        hashes=_sha256(added.sha256),
        properties=[Property(name="shipyard:added_by", value="provision file step")],
    )


def _sha256(digest: str | None) -> Iterable[HashType]:
    return [HashType(alg=HashAlgorithm.SHA_256, content=digest)] if digest else []


def cyclonedx_json(subject: SbomSubject) -> str:
    """The CycloneDX 1.5 JSON document for ``subject``."""
    return JsonV1Dot5(cyclonedx_bom(subject)).output_as_string(indent=2)


def write_sbom(build_dir: Path, subject: SbomSubject) -> tuple[SbomFile, ...]:
    """Write the bill of materials into ``build_dir``; returns what to record of it."""
    from shipyard.build.sbom_spdx import SPDX_NAME, write_spdx

    cdx = build_dir / CYCLONEDX_NAME
    cdx.write_text(cyclonedx_json(subject) + "\n", encoding="utf-8")
    spdx = build_dir / SPDX_NAME
    write_spdx(spdx, subject)
    return (
        SbomFile(format="cyclonedx-1.5", path=cdx.name, sha256=sha256_file(cdx)),
        SbomFile(format="spdx-2.3", path=spdx.name, sha256=sha256_file(spdx)),
    )
