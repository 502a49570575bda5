"""What a Debian mirror offers: its Packages indexes, newest version of each package."""

from __future__ import annotations

import gzip
import logging
import lzma
import urllib.error
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass

from shipyard.debversion import compare_versions
from shipyard.errors import CatalogError

log = logging.getLogger("shipyard.catalog")


@dataclass(frozen=True)
class Source:
    """One apt source: ``URL SUITE [COMPONENT...]``; a suite ending in ``/`` is a flat repo."""

    url: str
    suite: str
    components: tuple[str, ...] = ("main",)
    required: bool = True

    @classmethod
    def parse(cls, text: str) -> Source:
        parts = text.split()
        if len(parts) < 2:
            raise CatalogError(
                f"{text!r} is not an apt source (expected: URL SUITE [COMPONENT...])"
            )
        return cls(parts[0].rstrip("/"), parts[1], tuple(parts[2:]) or ("main",))

    def index_urls(self, arch: str) -> list[str]:
        """Where this source's Packages indexes are, one per component."""
        if self.suite.endswith("/"):
            return [f"{self.url}/{self.suite.strip('/')}/Packages".replace("/./", "/")]
        return [
            f"{self.url}/dists/{self.suite}/{comp}/binary-{arch}/Packages"
            for comp in self.components
        ]


def _fetch(url: str) -> bytes | None:
    """The first of Packages.xz, .gz or plain that exists, decompressed; None if none does."""
    for suffix, unpack in ((".xz", lzma.decompress), (".gz", gzip.decompress), ("", bytes)):
        try:
            with urllib.request.urlopen(url + suffix, timeout=60) as resp:
                data: bytes = resp.read()
        except (urllib.error.URLError, OSError):
            continue
        try:
            return unpack(data)
        except (lzma.LZMAError, OSError, EOFError) as exc:
            raise CatalogError(f"{url}{suffix} is damaged: {exc}") from exc
    return None


def parse_packages(text: str) -> dict[str, str]:
    """Package name -> newest version in one Packages index."""
    found: dict[str, str] = {}
    for stanza in text.split("\n\n"):
        name = version = None
        for line in stanza.splitlines():
            if line.startswith("Package:"):
                name = line.split(":", 1)[1].strip()
            elif line.startswith("Version:"):
                version = line.split(":", 1)[1].strip()
        if name and version and (name not in found or compare_versions(version, found[name]) > 0):
            found[name] = version
    return found


def available(sources: Iterable[Source], arch: str) -> dict[str, str]:
    """Newest version of every package across ``sources`` (plus ``all`` packages)."""
    newest: dict[str, str] = {}
    for source in sources:
        found_any = False
        for url in source.index_urls(arch):
            data = _fetch(url)
            if data is None:
                continue
            found_any = True
            for name, version in parse_packages(data.decode(errors="replace")).items():
                if name not in newest or compare_versions(version, newest[name]) > 0:
                    newest[name] = version
        if not found_any:
            if source.required:
                raise CatalogError(f"{source.url} has no Packages index for {source.suite}/{arch}")
            log.info("%s %s has no Packages index for %s; skipped", source.url, source.suite, arch)
    return newest


def newer(installed: dict[str, str], offered: dict[str, str]) -> dict[str, tuple[str, str]]:
    """Installed packages the mirror has a newer version of: name -> (installed, offered)."""
    return {
        name: (have, offered[name])
        for name, have in sorted(installed.items())
        if name in offered and compare_versions(offered[name], have) > 0
    }
