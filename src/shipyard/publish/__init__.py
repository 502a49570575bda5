"""Publish targets: one module per target, chosen by name, imported only when used.

Each target module has ``publish(build_dir: Path, target: <its manifest model>)`` which
does the work, records it in the build's record and returns its result (a model).
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shipyard.errors import PublishError
from shipyard.manifest.schema import CatalogTarget, Ec2Target
from shipyard.record_sections import EbsPublishEntry, S3PublishEntry

if TYPE_CHECKING:
    from shipyard.publish.catalog import CatalogPublishResult

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


def publish_targets(
    build_dir: Path, targets: Sequence[PublishTarget]
) -> list[EbsPublishEntry | S3PublishEntry | CatalogPublishResult]:
    """Publish a finished build to each of ``targets`` in order; their results, in order."""
    return [target_module(target.to).publish(build_dir, target) for target in targets]
