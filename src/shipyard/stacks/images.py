"""`image:` in a stack file → the catalog's AMI for the stack's region, pinned by id."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from shipyard.catalog import resolve
from shipyard.errors import StackError
from shipyard.stacks.model import ImageRef

VERSION_TAG = "shipyard:image-version"
BUILD_TAG = "shipyard:build-id"


@dataclass(frozen=True)
class ResolvedImage:
    ami_id: str
    region: str
    product_id: str
    version: str
    build_id: str

    def tags(self) -> dict[str, str]:
        """What the stack is tagged with, so `diff` shows when a newer image would roll out."""
        return {VERSION_TAG: self.version, BUILD_TAG: self.build_id}


def filters_for(ref: ImageRef, region: str) -> list[resolve.Filter]:
    texts = [
        f"flavour={ref.flavour}",
        f"release={ref.release}",
        f"arch={ref.arch}",
        f"region={region}",
    ]
    if ref.channel:
        texts.append(f"channel={ref.channel}")
    return resolve.parse_filters(texts)


def resolve_image(ref: ImageRef, region: str, view: resolve.View) -> ResolvedImage:
    """The newest matching catalog image that has an AMI in ``region``."""
    filters = filters_for(ref, region)
    image = resolve.resolve(view, filters)
    if image is None:
        raise StackError(
            f"no image in the catalog matches {resolve.describe(filters)}",
            hint="publish one with `shipyard publish --to ec2`, then `shipyard catalog add` it",
        )
    ami = next(iter(image.amis.values()))
    return ResolvedImage(
        ami_id=str(ami["id"]),
        region=region,
        product_id=image.product_id,
        version=image.version,
        build_id=str(image.fields.get("build_id", "")),
    )


def catalog_view(
    store_url: str | None, keyring: Path | None, endpoint_url: str | None = None
) -> resolve.View:
    """The verified catalog (`--store`, else $SHIPYARD_CATALOG), as `catalog resolve` reads it."""
    from shipyard.catalog import sign
    from shipyard.catalog.store import open_store

    verifier = sign.verifier(keyring)
    try:
        return resolve.view_from_store(open_store(store_url, endpoint_url=endpoint_url), verifier)
    finally:
        verifier.close()
