"""Stage assemble: the GPT disk image with its filesystems and boot loaders."""

from __future__ import annotations

import logging

from shipyard.build.context import BuildContext
from shipyard.disk.bootloader import BOOTLOADERS
from shipyard.disk.filesystems import make_root_filesystem
from shipyard.disk.grub import grub_cfg
from shipyard.disk.partition import write_partition_table
from shipyard.errors import BuildError
from shipyard.manifest.sizes import format_size
from shipyard.proc import run

log = logging.getLogger("shipyard.build")


def assemble_disk(ctx: BuildContext) -> None:
    layout = ctx.layout
    assert layout is not None
    grub_dir = ctx.in_root("/boot/grub")
    grub_dir.mkdir(parents=True, exist_ok=True)
    (grub_dir / "grub.cfg").write_text(grub_cfg(layout))
    check_root_fits(ctx)

    image = ctx.raw_image
    with open(image, "wb") as fh:
        fh.truncate(layout.size)
    write_partition_table(image, layout)
    make_root_filesystem(image, layout, ctx.root, ctx.log_file)
    for mode in ctx.manifest.volume.boot:
        BOOTLOADERS[mode](
            image, layout, ctx.manifest.system.architecture, ctx.work_dir, ctx.log_file
        )


def check_root_fits(ctx: BuildContext) -> None:
    assert ctx.layout is not None
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
