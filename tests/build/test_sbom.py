"""The bill of materials: read from a fake image root (no root needed) and from a real build."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
from spdx_tools.spdx.parser.parse_anything import parse_file
from spdx_tools.spdx.validation.document_validator import validate_full_spdx_document

from shipyard.build.context import AddedFile
from shipyard.build.dpkg_status import deb_file_name, dep5_license, read_installed
from shipyard.build.sbom import CYCLONEDX_NAME, SbomSubject, write_sbom
from shipyard.build.sbom_spdx import SPDX_NAME
from shipyard.build.verify import verify_build
from shipyard.record import load

STATUS = """\
Package: bash
Status: install ok installed
Priority: required
Architecture: amd64
Version: 5.2.15-2+b7
Description: GNU Bourne Again SHell
 Bash is an sh-compatible command language interpreter.

Package: libssl3
Status: install ok installed
Architecture: amd64
Source: openssl (3.0.15-1~deb12u1)
Version: 3.0.15-1~deb12u1+b1
Description: Secure Sockets Layer toolkit

Package: systemd-sysv
Status: install ok installed
Architecture: amd64
Source: systemd
Version: 1:252.33-1~deb12u1

Package: nano
Status: deinstall ok config-files
Architecture: amd64
Version: 7.2-1
"""

DEP5 = """\
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: bash

Files: *
Copyright: 1987-2022 Free Software Foundation, Inc.
License: GPL-3+

Files: debian/*
License: GPL-2+
"""


def _fake_root(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    (root / "var/lib/dpkg").mkdir(parents=True)
    (root / "var/lib/dpkg/status").write_text(STATUS)
    doc = root / "usr/share/doc"
    (doc / "bash").mkdir(parents=True)
    (doc / "bash/copyright").write_text(DEP5)
    (doc / "libssl3").mkdir()
    (doc / "libssl3/copyright").write_text("This is Debian's prebuilt OpenSSL.\nSee LICENSE.\n")
    # An absolute link would lead out of the image into the host.
    (doc / "systemd-sysv").symlink_to("/usr/share/doc/bash")
    return root


def test_installed_packages_come_from_the_status_file(tmp_path: Path) -> None:
    packages = read_installed(_fake_root(tmp_path))
    assert [p.name for p in packages] == ["bash", "libssl3", "systemd-sysv"]
    bash, libssl, systemd = packages
    assert (bash.version, bash.source, bash.license) == ("5.2.15-2+b7", "bash", "GPL-3+")
    assert (libssl.source, libssl.source_version) == ("openssl", "3.0.15-1~deb12u1")
    assert libssl.license is None  # not a machine-readable copyright file
    assert (systemd.source, systemd.source_version) == ("systemd", "1:252.33-1~deb12u1")
    assert systemd.license is None
    assert deb_file_name(systemd) == "systemd-sysv_1%3a252.33-1~deb12u1_amd64.deb"


def test_dep5_header_licence_and_other_formats() -> None:
    header_only = (
        "Format: http://www.debian.org/doc/packaging-manuals/copyright-format/1.0\nLicense: MIT\n"
    )
    assert dep5_license(header_only) == "MIT"
    assert dep5_license("Format: something else\n\nFiles: *\nLicense: MIT\n") is None
    assert dep5_license("") is None


def test_cyclonedx_document_is_valid_and_complete(tmp_path: Path) -> None:
    packages = read_installed(_fake_root(tmp_path))
    subject = SbomSubject(
        name="debian-bookworm-test",
        build_id="20261203-000000-abcdef",
        release="bookworm",
        created=datetime(2026, 12, 3, tzinfo=UTC),
        packages=packages,
        files=(AddedFile(path="/etc/motd", sha256="ab" * 32),),
    )
    cdx, spdx = write_sbom(tmp_path, subject)
    assert (cdx.format, cdx.path) == ("cyclonedx-1.5", CYCLONEDX_NAME)
    assert (spdx.format, spdx.path) == ("spdx-2.3", SPDX_NAME)
    text = (tmp_path / CYCLONEDX_NAME).read_text()
    assert JsonStrictValidator(SchemaVersion.V1_5).validate_str(text) is None
    doc = json.loads(text)
    assert doc["specVersion"] == "1.5"
    by_name = {c["name"]: c for c in doc["components"]}
    assert by_name["libssl3"]["purl"] == (
        "pkg:deb/debian/libssl3@3.0.15-1~deb12u1%2Bb1?arch=amd64&distro=debian-bookworm"
    )
    assert by_name["bash"]["licenses"] == [{"license": {"name": "GPL-3+"}}]
    assert by_name["/etc/motd"]["type"] == "file"
    assert by_name["/etc/motd"]["hashes"] == [{"alg": "SHA-256", "content": "ab" * 32}]
    _check_spdx(tmp_path / SPDX_NAME, {"bash": "5.2.15-2+b7", "libssl3": "3.0.15-1~deb12u1+b1"})


def _check_spdx(path: Path, expected: dict[str, str]) -> None:
    """A valid SPDX 2.3 document (spdx-tools' own validator) listing these package versions."""
    document = parse_file(str(path))
    assert validate_full_spdx_document(document) == []
    versions = {p.name: p.version for p in document.packages}
    assert expected.items() <= versions.items()


@pytest.mark.build
def test_build_has_a_valid_sbom_listing_the_manifest_packages(minimal_build: Path) -> None:
    record = load(minimal_build)
    assert [f.path for f in record.sbom] == [CYCLONEDX_NAME, SPDX_NAME]
    text = (minimal_build / CYCLONEDX_NAME).read_text()
    assert JsonStrictValidator(SchemaVersion.V1_5).validate_str(text) is None
    components = {c["name"]: c for c in json.loads(text)["components"]}
    assert components["openssh-server"]["version"] == record.packages["openssh-server"]
    assert set(record.packages) <= set(components)
    kernel = components["linux-image-cloud-amd64"]
    assert kernel["purl"].startswith("pkg:deb/debian/linux-image-cloud-amd64@")
    assert any(c.get("hashes") for c in components.values()), "no .deb digest from the cache"
    assert any(c.get("licenses") for c in components.values()), "no licence found"
    _check_spdx(minimal_build / SPDX_NAME, {"openssh-server": record.packages["openssh-server"]})
    assert verify_build(minimal_build).record.id == record.id
