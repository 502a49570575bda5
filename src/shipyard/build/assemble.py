"""Stage assemble: the GPT disk image with its filesystems and boot loaders."""

from __future__ import annotations

import logging

from shipyard.build.context import BuildContext
from shipyard.build.reproducible import clamp_times, dated, fix_inode_times, source_date_epoch
from shipyard.disk.bootloader import BOOTLOADERS
from shipyard.disk.filesystems import make_root_filesystem
from shipyard.disk.partition import write_partition_table
from shipyard.errors import BuildError
from shipyard.manifest.sizes import format_size
from shipyard.proc import run

log = logging.getLogger("shipyard.build")


def assemble_disk(ctx: BuildContext) -> None:
    """disk.raw: the partition table, the root filesystem from ``ctx.root``, boot loaders."""
    layout = ctx.layout
    check_root_fits(ctx)

    epoch = source_date_epoch(ctx.manifest.source_date_epoch, ctx.root)
    clamped = clamp_times(ctx.root, epoch)
    log.info("SOURCE_DATE_EPOCH=%d (%d files were newer)", epoch, clamped)
    image = ctx.raw_image
    with open(image, "wb") as fh:
        fh.truncate(layout.size)
    with dated(epoch):
        write_partition_table(image, layout)
        make_root_filesystem(image, layout, ctx.root, ctx.log_file)
        fix_inode_times(image, layout.root.start, ctx.root, epoch, ctx.log_file)
        for mode in ctx.manifest.volume.boot:
            BOOTLOADERS[mode](
                image, layout, ctx.manifest.system.architecture, ctx.work_dir, ctx.log_file
            )


def check_root_fits(ctx: BuildContext) -> None:
    out = run(["du", "-s", "--block-size=1", "-x", ctx.root], error=BuildError, what="du")
    used = int(out.stdout.split()[0])
    # ext4 needs room for its metadata and journal beside the files.
    available = int(ctx.layout.root.size * 0.9) - 64 * 1024**2
    if used > available:
        raise BuildError(
            f"the image's files take {format_size(used)} but volume.size "
            f"({format_size(ctx.layout.size)}) leaves room for about {format_size(available)}; "
            "make volume.size larger"
        )
