"""An SSM parameter per flavour and channel holding the AMI id, for stacks that follow a
channel: `catalog promote --ssm` writes it in every region the version has an AMI in."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from shipyard.catalog.records import VersionRecord
from shipyard.errors import CatalogError

PREFIX = "/shipyard/images"


def parameter_name(
    flavour: str, release: str, arch: str, channel: str, os_name: str = "debian"
) -> str:
    """``/shipyard/images/debian/bookworm/amd64/minimal/stable``."""
    return f"{PREFIX}/{os_name}/{release}/{arch}/{flavour}/{channel}"


def write_parameters(rec: VersionRecord, client_for: Callable[[str], Any]) -> dict[str, str]:
    """Point the version's channel parameter at its AMI in each region; region → name."""
    from shipyard.aws.session import translated

    if not rec.amis:
        raise CatalogError(
            f"{rec.product_id} {rec.version} has no AMI, so there is no SSM parameter to write"
        )
    name = parameter_name(rec.flavour, rec.release, rec.arch, rec.channel, rec.os)
    written: dict[str, str] = {}
    for region, ami in sorted(rec.amis.items()):
        with translated(f"PutParameter {name} in {region}"):
            client_for(region).put_parameter(
                Name=name,
                Value=ami.id,
                Type="String",
                DataType="aws:ec2:image",
                Overwrite=True,
                Description=f"{rec.product_id} {rec.version} ({rec.build_id})",
            )
        written[region] = name
    return written
