"""What dpkg installed in an image, read from its files (never by running dpkg on the host).

``/var/lib/dpkg/status`` is a deb822 file: paragraphs of ``Field: value`` lines, values
continued on lines that start with a space. ``/usr/share/doc/PKG/copyright`` may be in
the machine-readable format (DEP-5), whose ``Files: *`` paragraph names the licence.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

DEP5_FORMATS = (
    "https://www.debian.org/doc/packaging-manuals/copyright-format/1.0",
    "http://www.debian.org/doc/packaging-manuals/copyright-format/1.0",
)


@dataclass(frozen=True)
class InstalledPackage:
    """One Debian package dpkg has installed."""

    name: str
    version: str
    architecture: str
    source: str  # the source package (the binary's own name when it has no Source field)
    source_version: str
    license: str | None = None  # from a DEP-5 copyright file, as written there
    deb_sha256: str | None = None  # of the .deb it came from, when the cache still has it


def paragraphs(text: str) -> Iterator[dict[str, str]]:
    """The paragraphs of a deb822 text, field names as written, continuation lines joined."""
    fields: dict[str, str] = {}
    last: str | None = None
    for line in text.splitlines():
        if not line.strip():
            if fields:
                yield fields
            fields, last = {}, None
        elif line[0] in " \t":
            if last is not None:
                fields[last] += "\n" + line.strip()
        elif ":" in line and not line.startswith("#"):
            key, _, value = line.partition(":")
            last = key.strip()
            fields[last] = value.strip()
    if fields:
        yield fields


def installed(status_text: str) -> tuple[InstalledPackage, ...]:
    """Every package whose status says it is installed, sorted by name then architecture."""
    found: list[InstalledPackage] = []
    for para in paragraphs(status_text):
        state = para.get("Status", "").split()
        if len(state) != 3 or state[2] != "installed" or "Package" not in para:
            continue
        version = para.get("Version", "")
        source, source_version = _source(para.get("Source"), para["Package"], version)
        found.append(
            InstalledPackage(
                name=para["Package"],
                version=version,
                architecture=para.get("Architecture", "all"),
                source=source,
                source_version=source_version,
            )
        )
    return tuple(sorted(found, key=lambda p: (p.name, p.architecture)))


def _source(field: str | None, name: str, version: str) -> tuple[str, str]:
    """``Source: foo (1.2-3)`` names a source of another version; no field means itself."""
    if not field:
        return name, version
    source, _, rest = field.partition(" ")
    rest = rest.strip()
    if rest.startswith("(") and rest.endswith(")"):
        return source, rest[1:-1]
    return source, version


def dep5_license(copyright_text: str) -> str | None:
    """The licence of ``Files: *`` in a DEP-5 copyright file; None for any other format."""
    paras = list(paragraphs(copyright_text))
    if not paras or paras[0].get("Format", "").rstrip("/") not in DEP5_FORMATS:
        return None
    for para in paras[1:]:
        if para.get("Files", "").split() == ["*"] and para.get("License"):
            return para["License"].splitlines()[0].strip() or None
    header = paras[0].get("License")
    return header.splitlines()[0].strip() if header else None


def read_installed(root: Path) -> tuple[InstalledPackage, ...]:
    """The installed packages of the image tree at ``root``, with their licences."""
    status = root / "var/lib/dpkg/status"
    if not status.resolve().is_relative_to(root.resolve()):
        raise OSError(f"/var/lib/dpkg/status leads out of the image to {status.resolve()}")
    packages = installed(status.read_text(encoding="utf-8", errors="replace"))
    return tuple(_with_license(root, p) for p in packages)


def _with_license(root: Path, package: InstalledPackage) -> InstalledPackage:
    doc = root / "usr/share/doc" / package.name / "copyright"
    # An absolute symlink in the image would point into the host: follow none out of it.
    if not doc.resolve().is_relative_to(root.resolve()):
        return package
    try:
        text = doc.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return package
    license = dep5_license(text)
    if license is None:
        return package
    return replace(package, license=license)


def deb_file_name(package: InstalledPackage) -> str:
    """The name apt gives the package's .deb in its archive cache (``:`` becomes ``%3a``)."""
    version = package.version.replace(":", "%3a")
    return f"{package.name}_{version}_{package.architecture}.deb"
