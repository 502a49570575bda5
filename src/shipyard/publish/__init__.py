"""Publish targets: one module per target, chosen by name, imported only when used.

Each target module has ``publish(build_dir: Path, target: <its manifest model>) -> dict``
which does the work, appends its result to the build's record and returns it.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from shipyard.errors import PublishError
from shipyard.manifest.schema import CatalogTarget, Ec2Target

PublishTarget = Ec2Target | CatalogTarget

TARGETS: dict[str, str] = {
    "ec2": "shipyard.publish.ec2",
    "catalog": "shipyard.publish.catalog",
}


def target_module(name: str) -> Any:
    """The module that publishes to target ``name``."""
    try:
        module_name = TARGETS[name]
    except KeyError:
        raise PublishError(
            f"unknown publish target {name!r}; known targets: {', '.join(TARGETS)}"
        ) from None
    return importlib.import_module(module_name)


def publish_targets(build_dir: Path, targets: Sequence[PublishTarget]) -> list[dict[str, Any]]:
    """Publish a finished build to each of ``targets`` in order; their results, in order."""
    results: list[dict[str, Any]] = []
    for target in targets:
        result = target_module(target.to).publish(build_dir, target)
        results.append(dict(result))
    return results
