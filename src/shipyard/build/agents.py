"""The boot agents an image can carry, by the manifest's ``agent`` key.

Each entry names a module with two functions:

- ``packages(manifest) -> tuple[str, ...]``: Debian packages the agent needs in the image
  (they join the bootstrap package set, so they are part of the base cache key);
- ``install(ctx) -> None``: puts the agent into ``ctx.root`` and enables it.

Modules are imported only when their agent is chosen.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from shipyard.build.context import BuildContext
from shipyard.manifest.schema import Manifest

AGENTS: dict[str, str] = {
    "shipyard": "shipyard.build.agent_shipyard",
    "cloud-init": "shipyard.build.agent_cloudinit",
    "none": "shipyard.build.agent_none",
}


def _module(name: str) -> ModuleType:
    return importlib.import_module(AGENTS[name])


def agent_packages(manifest: Manifest) -> tuple[str, ...]:
    packages: tuple[str, ...] = _module(manifest.agent).packages(manifest)
    return packages


def install_agent(ctx: BuildContext) -> None:
    _module(ctx.manifest.agent).install(ctx)
