"""Which Debian packages a manifest's image gets, and how apt reaches them."""

from __future__ import annotations

from shipyard.build.agents import agent_packages
from shipyard.manifest.schema import Manifest

KERNELS = {"amd64": "linux-image-cloud-amd64", "arm64": "linux-image-cloud-arm64"}

# What booting, logging in and growing the root need on top of minbase.
BOOT_PACKAGES = (
    "systemd-sysv",
    "udev",
    "dbus",
    "openssh-server",
    "sudo",
    "fdisk",  # sfdisk, to grow the root partition at first boot
    "e2fsprogs",  # resize2fs
    "initramfs-tools",
    "zstd",  # initramfs compression
)

PLAIN_LOCALES = ("C", "C.UTF-8", "C.utf8", "POSIX")
PLAIN_TIMEZONES = ("UTC", "Etc/UTC")


def boot_packages(manifest: Manifest) -> tuple[str, ...]:
    release = manifest.system.release
    packages = [KERNELS[manifest.system.architecture], *BOOT_PACKAGES]
    # systemd-resolved left the systemd package in bookworm. usr-is-merged stands in for
    # usrmerge (init-system-helpers wants one), which would pull in perl: 50 MB.
    if release != "bullseye":
        packages += ["systemd-resolved", "usr-is-merged"]
    if manifest.system.locale not in PLAIN_LOCALES:
        packages.append("locales")
    if manifest.system.timezone not in PLAIN_TIMEZONES:
        packages.append("tzdata")
    return tuple(packages)


def package_set(manifest: Manifest) -> tuple[str, ...]:
    """Everything to install, sorted and without duplicates, minus packages.exclude."""
    wanted = {*boot_packages(manifest), *agent_packages(manifest), *manifest.packages.include}
    excluded = {name.split("=")[0] for name in manifest.packages.exclude}
    return tuple(sorted(p for p in wanted if p.split("=")[0] not in excluded))


def apt_sources(manifest: Manifest) -> list[str]:
    """One-line apt sources for the release, its updates and its security suite."""
    release = manifest.system.release
    components = " ".join(manifest.packages.components)
    mirror = manifest.packages.mirror
    lines = [f"deb {mirror} {release} {components}"]
    if release not in ("sid",):
        lines.append(f"deb {mirror} {release}-updates {components}")
        lines.append(f"deb {manifest.packages.security_mirror} {release}-security {components}")
    return lines


def deb822_sources(manifest: Manifest) -> str:
    """The same sources in deb822 form, for the instance's /etc/apt/sources.list.d/."""
    release = manifest.system.release
    components = " ".join(manifest.packages.components)
    keyring = "/usr/share/keyrings/debian-archive-keyring.gpg"
    suites = [release] if release == "sid" else [release, f"{release}-updates"]
    text = (
        f"Types: deb\nURIs: {manifest.packages.mirror}\nSuites: {' '.join(suites)}\n"
        f"Components: {components}\nSigned-By: {keyring}\n"
    )
    if release != "sid":
        text += (
            f"\nTypes: deb\nURIs: {manifest.packages.security_mirror}\n"
            f"Suites: {release}-security\nComponents: {components}\nSigned-By: {keyring}\n"
        )
    return text
