"""Write and read back a GPT on an image file with sfdisk (no loop device needed)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from shipyard.disk.layout import DiskLayout
from shipyard.errors import DiskError
from shipyard.proc import run


def sfdisk_script(layout: DiskLayout) -> str:
    lines = [
        "label: gpt",
        f"label-id: {layout.disk_guid}",
        "unit: sectors",
        "first-lba: 2048",
        "",
    ]
    for part in layout.partitions:
        lines.append(
            f"start={part.start_sector}, size={part.sectors}, type={part.type_guid}, "
            f'uuid={part.uuid}, name="{part.name}"'
        )
    return "\n".join(lines) + "\n"


def write_partition_table(image: Path, layout: DiskLayout) -> None:
    run(
        ["sfdisk", "--quiet", "--no-reread", "--no-tell-kernel", "--wipe", "never", image],
        input=sfdisk_script(layout),
        error=DiskError,
        what="write the partition table",
    )


def read_partition_table(image: Path) -> dict[str, Any]:
    """The partition table as ``sfdisk --json`` reports it."""
    out = run(["sfdisk", "--json", image], error=DiskError, what="read the partition table")
    table: dict[str, Any] = json.loads(out.stdout)["partitiontable"]
    return table
