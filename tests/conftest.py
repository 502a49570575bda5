"""Session-wide fixtures: real image builds, made once per test session and shared.

Builds use the normal build cache (``$SHIPYARD_CACHE`` or ~/.cache/shipyard), so a
second test session, or CI on a machine that ran one, starts warm.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"

BuildImage = Callable[..., Path]


def _can_build() -> str | None:
    if os.geteuid() != 0:
        return "image builds need root"
    for tool in ("mmdebstrap", "mkfs.ext4", "grub-mkimage", "sfdisk", "qemu-img"):
        if shutil.which(tool) is None and not Path("/usr/sbin", tool).exists():
            return f"{tool} is not installed (make test installs it)"
    return None


@pytest.fixture(scope="session")
def build_image(tmp_path_factory: pytest.TempPathFactory) -> BuildImage:
    """``build_image(manifest, overrides=())`` → build dir, built once per session."""
    reason = _can_build()
    out = tmp_path_factory.mktemp("builds")
    built: dict[tuple[str, tuple[str, ...]], Path] = {}

    def _build(manifest: str | Path, overrides: Sequence[str] = ()) -> Path:
        if reason:
            pytest.skip(reason)
        from shipyard.build.pipeline import build
        from shipyard.manifest.loader import load_manifest

        key = (str(Path(manifest).resolve()), tuple(overrides))
        if key not in built:
            built[key] = build(load_manifest(manifest, overrides), out)
        return built[key]

    return _build


@pytest.fixture(scope="session")
def minimal_build(build_image: BuildImage) -> Path:
    """examples/minimal.yml, built once per session."""
    return build_image(EXAMPLES / "minimal.yml")


@pytest.fixture(scope="session")
def signer(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The metadata emulator's identity-document signer, one key per session."""
    from shipyard.vm.identity import load_signer

    return load_signer(tmp_path_factory.mktemp("imds-key"))


@pytest.fixture(scope="session")
def public_key(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A real OpenSSH public key line."""
    key = tmp_path_factory.mktemp("ssh") / "id_ed25519"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "user@laptop", "-f", str(key)],
        check=True,
    )
    return key.with_suffix(".pub").read_text().strip()
