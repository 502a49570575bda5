"""``agent: none``: the image carries no first-boot agent."""

from __future__ import annotations

from shipyard.build.context import BuildContext
from shipyard.manifest.schema import Manifest


def packages(manifest: Manifest) -> tuple[str, ...]:
    return ()


def install(ctx: BuildContext) -> None:
    return None
