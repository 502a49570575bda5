"""Stage convert: other disk formats from disk.raw, and every output's checksum."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from shipyard.build.context import BuildContext, ImageFiles
from shipyard.checksum import sha256_file
from shipyard.errors import BuildError
from shipyard.proc import run
from shipyard.record import Artifact

# qemu-img output format and options per manifest format.
CONVERSIONS: dict[str, tuple[str, str, list[str]]] = {
    # zstd-compressed clusters, written by parallel coroutines: a third of the size of
    # the raw data in a few seconds (readable by qemu 5.1 and later).
    "qcow2": ("disk.qcow2", "qcow2", ["-c", "-m", "4", "-W", "-o", "compression_type=zstd"]),
    "vmdk": ("disk.vmdk", "vmdk", ["-o", "subformat=streamOptimized"]),
    # EC2 VM import wants fixed VHDs whose size is exactly the disk's.
    "vhd": ("disk.vhd", "vpc", ["-o", "subformat=fixed,force_size=on"]),
}


def convert_formats(ctx: BuildContext) -> ImageFiles:
    wanted = [fmt for fmt in ctx.manifest.formats if fmt != "raw"]
    with ThreadPoolExecutor(max_workers=max(2, len(wanted) + 1)) as pool:
        raw_hash = pool.submit(sha256_file, ctx.raw_image)
        conversions = {fmt: pool.submit(_convert, ctx, fmt) for fmt in wanted}
        artifacts = {"raw": _artifact(ctx, "raw", ctx.raw_image, raw_hash.result())}
        for fmt, future in conversions.items():
            path = future.result()
            artifacts[fmt] = _artifact(ctx, fmt, path, sha256_file(path))
    return ImageFiles(formats=artifacts)


def _convert(ctx: BuildContext, fmt: str) -> Path:
    name, qemu_format, options = CONVERSIONS[fmt]
    output = ctx.build_dir / name
    run(
        ["qemu-img", "convert", "-f", "raw", "-O", qemu_format, *options, ctx.raw_image, output],
        error=BuildError,
        what=f"convert the image to {fmt}",
    )
    return output


def _artifact(ctx: BuildContext, fmt: str, path: Path, digest: str) -> Artifact:
    stat = path.stat()
    return Artifact(
        format=fmt,
        path=path.name,
        size=stat.st_size,
        allocated=stat.st_blocks * 512,
        virtual_size=ctx.layout.size,
        sha256=digest,
    )
