"""The same bill of materials as SPDX 2.3 JSON (``sbom.spdx.json``), made with spdx-tools.

Debian's copyright files name licences in their own short forms ("GPL-2+"); those that
are valid SPDX expressions are declared as such, the others are left as NOASSERTION
with Debian's name in the licence comment. Files added by provision steps are listed as
packages of purpose FILE, since an SPDX File must carry a SHA-1 and we keep only sha256.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

from license_expression import get_spdx_licensing
from spdx_tools.spdx.model.actor import Actor, ActorType
from spdx_tools.spdx.model.checksum import Checksum, ChecksumAlgorithm
from spdx_tools.spdx.model.document import CreationInfo, Document
from spdx_tools.spdx.model.package import (
    ExternalPackageRef,
    ExternalPackageRefCategory,
    Package,
    PackagePurpose,
)
from spdx_tools.spdx.model.relationship import Relationship, RelationshipType
from spdx_tools.spdx.model.spdx_no_assertion import SpdxNoAssertion
from spdx_tools.spdx.writer.json.json_writer import write_document_to_file

from shipyard import __version__
from shipyard.build.dpkg_status import InstalledPackage
from shipyard.build.sbom import SbomSubject, package_purl

SPDX_NAME = "sbom.spdx.json"
NAMESPACE = "https://shipyard.invalid/spdx"
_ID_UNSAFE = re.compile(r"[^A-Za-z0-9.-]")


def _spdx_id(kind: str, name: str) -> str:
    return f"SPDXRef-{kind}-{_ID_UNSAFE.sub('-', name)}"


def spdx_document(subject: SbomSubject) -> Document:
    image_id = _spdx_id("Image", subject.build_id)
    creation = CreationInfo(
        spdx_version="SPDX-2.3",
        spdx_id="SPDXRef-DOCUMENT",
        name=subject.name,
        document_namespace=f"{NAMESPACE}/{subject.name}-{subject.build_id}",
        creators=[Actor(ActorType.TOOL, f"shipyard-{__version__}")],
        created=subject.created.replace(microsecond=0),
    )
    image = Package(
        spdx_id=image_id,
        name=subject.name,
        version=subject.build_id,
        download_location=SpdxNoAssertion(),
        files_analyzed=False,
        primary_package_purpose=PackagePurpose.OPERATING_SYSTEM,
    )
    packages = [image]
    relationships = [Relationship("SPDXRef-DOCUMENT", RelationshipType.DESCRIBES, image_id)]
    for package in subject.packages:
        spdx = _package(package, subject.release)
        packages.append(spdx)
        relationships.append(Relationship(image_id, RelationshipType.CONTAINS, spdx.spdx_id))
    for added in subject.files:
        spdx = Package(
            spdx_id=_spdx_id("File", added.path),
            name=added.path,
            download_location=SpdxNoAssertion(),
            files_analyzed=False,
            checksums=[Checksum(ChecksumAlgorithm.SHA256, added.sha256)],
            primary_package_purpose=PackagePurpose.FILE,
            comment="added by a provision file step",
        )
        packages.append(spdx)
        relationships.append(Relationship(image_id, RelationshipType.CONTAINS, spdx.spdx_id))
    return Document(creation_info=creation, packages=packages, relationships=relationships)


def _package(package: InstalledPackage, release: str) -> Package:
    declared, comment = _license(package.license)
    return Package(
        spdx_id=_spdx_id("Package", f"{package.name}-{package.architecture}"),
        name=package.name,
        version=package.version,
        download_location=SpdxNoAssertion(),
        files_analyzed=False,
        supplier=Actor(ActorType.ORGANIZATION, "Debian"),
        source_info=f"built from the Debian source package {package.source} "
        f"{package.source_version}",
        checksums=(
            [Checksum(ChecksumAlgorithm.SHA256, package.deb_sha256)] if package.deb_sha256 else []
        ),
        license_declared=declared,
        license_comment=comment,
        external_references=[
            ExternalPackageRef(
                ExternalPackageRefCategory.PACKAGE_MANAGER,
                "purl",
                package_purl(package, release).to_string(),
            )
        ],
        primary_package_purpose=PackagePurpose.LIBRARY,
    )


@cache
def _licensing() -> Any:
    """The SPDX licence list (loading it takes a moment, so once per process)."""
    return get_spdx_licensing()


def _license(name: str | None) -> tuple[object, str | None]:
    if name is None:
        return SpdxNoAssertion(), None
    licensing = _licensing()
    try:
        info = licensing.validate(name, strict=True)
    except Exception:  # the parser raises on text it cannot read at all
        return SpdxNoAssertion(), f"Debian copyright file: {name}"
    if info.errors or info.invalid_symbols:
        return SpdxNoAssertion(), f"Debian copyright file: {name}"
    return licensing.parse(name), None


def write_spdx(path: Path, subject: SbomSubject) -> None:
    """Write ``subject`` as SPDX 2.3 JSON; spdx-tools validates it while writing."""
    write_document_to_file(spdx_document(subject), str(path), validate=True)
