"""The sections later steps append to a build record: ``publish``, ``runs``, ``catalog``.

Each entry is a model, so a writer and every reader agree on its keys: the catalog
reads the AMIs of a build from ``publish`` entries exactly as publish wrote them.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Tag


class Section(BaseModel):
    """An entry of a build record's section: frozen, and no key it does not know."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class RegionImage(Section):
    """One region's copy of a published AMI."""

    image_id: str
    snapshot_id: str | None = None  # none for instance-store (S3-backed) AMIs


class UploadFigures(Section):
    """What the EBS upload of a publish did."""

    blocks_total: int
    blocks_sent: int
    bytes_sent: int
    seconds: float
    retries: int
    checksum: str


class EbsPublishEntry(Section):
    """An EBS-backed AMI published with ``--to ec2``, in its region and every copy."""

    target: Literal["ec2"] = "ec2"
    backing: Literal["ebs"] = "ebs"
    time: str
    name: str
    region: str  # where the disk was uploaded
    image_id: str  # the AMI in ``region``
    snapshot_id: str
    architecture: str
    boot_mode: str
    images: dict[str, RegionImage]  # by region, ``region`` included
    tags: dict[str, str] = {}
    public: bool = False
    shared_with: tuple[str, ...] = ()
    deprecate_at: str | None = None
    reused: bool
    upload: UploadFigures | None = None  # none when an earlier run's image was reused
    endpoint_url: str | None = None


class S3PublishEntry(Section):
    """An instance-store AMI bundled into S3 (``--backing s3``): one region, no snapshot."""

    target: Literal["ec2"] = "ec2"
    backing: Literal["s3"] = "s3"
    time: str
    name: str
    region: str
    image_id: str
    images: dict[str, RegionImage]
    image_location: str
    bucket: str
    manifest_key: str
    parts: int
    parts_sent: int
    parts_skipped: int
    bytes_sent: int
    bundled_size: int
    architecture: str
    boot_mode: str = "legacy-bios"
    tags: dict[str, str] = {}
    reused: bool
    endpoint_url: str | None = None


def _backing(entry: Any) -> str:
    """The kind of a publish entry; EBS unless it says otherwise."""
    if isinstance(entry, dict):
        return str(entry.get("backing", "ebs"))
    return str(getattr(entry, "backing", "ebs"))


PublishEntry = Annotated[
    Annotated[EbsPublishEntry, Tag("ebs")] | Annotated[S3PublishEntry, Tag("s3")],
    Discriminator(_backing),
]


class AgentReport(BaseModel):
    """The boot agent's closing report, as the guest printed it on its console.

    The guest's agent may be newer than this Shipyard and add fields; they are kept.
    """

    model_config = ConfigDict(frozen=True, extra="allow")

    step: str  # ready | failed
    ok: bool
    total: float | None = None
    failed_steps: tuple[str, ...] = ()
    datasource: str | None = None
    uptime: float | None = None


class PortForward(Section):
    """A guest TCP port reachable on the host at 127.0.0.1:host_port."""

    host_port: int
    guest_port: int


RunOutcome = Literal["ready", "failed", "exited", "interrupted", "timeout"]


class RunEntry(Section):
    """One local boot with ``shipyard run``."""

    instance_id: str
    accelerator: str
    firmware: str
    ssh_port: int
    ssh: str
    console_log: str
    certificate: str
    agent: AgentReport | None = None
    ready_seconds: float | None = None
    forwards: tuple[PortForward, ...] = ()
    outcome: RunOutcome
    disk_size: int | None = None
    finished: str


class CatalogEntry(Section):
    """The build's version in a catalog store, as ``catalog add`` made or changed it."""

    store: str
    product_id: str
    version: str
    channel: str
    time: str
