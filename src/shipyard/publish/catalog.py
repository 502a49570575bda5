"""Publish target ``catalog``: add the build to an image catalog store."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from shipyard.catalog.add import add_build
from shipyard.catalog.results import AddResult
from shipyard.catalog.store import open_store
from shipyard.manifest.schema import CatalogTarget


class CatalogPublishResult(AddResult):
    """``catalog add``'s result, named as a publish target's."""

    target: Literal["catalog"] = "catalog"


def publish(build_dir: Path, target: CatalogTarget) -> CatalogPublishResult:
    """Add the build to the store ``target.store`` (default: the local catalog) in its channel."""
    result = add_build(open_store(target.store), build_dir, target.channel)
    return CatalogPublishResult(**result.model_dump())
