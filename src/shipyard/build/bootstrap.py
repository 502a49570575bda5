"""Stage bootstrap: a Debian root tree from mmdebstrap, or from the base cache."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

from shipyard.build.cache import cache_key
from shipyard.build.context import BuildContext
from shipyard.build.packages import apt_sources, package_set
from shipyard.errors import BuildError
from shipyard.proc import run

log = logging.getLogger("shipyard.build")

VARIANT = "minbase"
# Left out of images unless packages.docs is set; copyright files always stay.
DOC_EXCLUDES = (
    "path-exclude=/usr/share/man/*",
    "path-exclude=/usr/share/info/*",
    "path-exclude=/usr/share/doc/*",
    "path-include=/usr/share/doc/*/copyright",
    "path-exclude=/usr/share/locale/*",
    "path-include=/usr/share/locale/locale.alias",
    "path-exclude=/usr/share/lintian/*",
)


def base_inputs(ctx: BuildContext) -> dict[str, object]:
    """Everything that determines the bootstrapped tree (its cache key's inputs)."""
    m = ctx.manifest
    return {
        "release": m.system.release,
        "architecture": m.system.architecture,
        "variant": VARIANT,
        "sources": apt_sources(m),
        "packages": list(package_set(m)),
        "exclude": sorted(m.packages.exclude),
        "docs": m.packages.docs,
    }


def bootstrap_root(ctx: BuildContext) -> None:
    """Fill ``ctx.root`` with the base system, reusing a cached base when one fits."""
    key = cache_key(base_inputs(ctx))
    ctx.base_key = key
    ctx.root.mkdir(parents=True)
    with ctx.cache.lock(f"base-{key}"):
        archive = ctx.cache.fresh_base(key) if ctx.use_cache else None
        if archive is not None:
            log.info("bootstrap: reusing cached base %s", key)
            run(
                ["tar", "--numeric-owner", "--xattrs", "-I", "zstd -T0", "-xpf", archive,
                 "-C", ctx.root],
                error=BuildError,
                what="unpack the cached base system",
            )
            ctx.base_cached = True
            ctx.tools["mmdebstrap"] = _base_meta(archive).get("mmdebstrap", "unknown")
            return
        _mmdebstrap(ctx)
        _save_base(ctx, key)


def _mmdebstrap(ctx: BuildContext) -> None:
    m = ctx.manifest
    debs = ctx.cache.debs(m.system.release, m.system.architecture)
    downloaded = ctx.work_dir / "downloaded-debs"
    downloaded.mkdir()
    argv: list[str] = [
        # Its own mount and PID namespace: mmdebstrap's mounts and processes end with it.
        "unshare", "--mount", "--propagation", "private", "--pid", "--fork", "--kill-child",
        "mmdebstrap",
        f"--variant={VARIANT}",
        "--mode=root",
        f"--architectures={m.system.architecture}",
        f"--include={','.join(package_set(m))}",
        "--aptopt=Acquire::Retries \"3\"",
        "--dpkgopt=force-unsafe-io",
        "--skip=essential/unlink",
        f"--setup-hook=mkdir -p \"$1\"/var/cache/apt/archives/",
        f"--setup-hook=sync-in {debs} /var/cache/apt/archives/",
        f"--customize-hook=sync-out /var/cache/apt/archives {downloaded}",
    ]
    if not m.packages.docs:
        argv += [f"--dpkgopt={rule}" for rule in DOC_EXCLUDES]
    if m.packages.exclude:
        names = " ".join(m.packages.exclude)
        argv.append(
            f"--customize-hook=chroot \"$1\" apt-get purge -y --allow-remove-essential {names}"
        )
    argv += [m.system.release, str(ctx.root), *apt_sources(m)]
    ctx.tools.setdefault("mmdebstrap", _mmdebstrap_version())
    try:
        run(argv, error=BuildError, what="mmdebstrap", log_file=ctx.log_file)
    finally:
        ctx.cache.adopt_debs(downloaded, m.system.release, m.system.architecture)
        shutil.rmtree(downloaded, ignore_errors=True)


def _save_base(ctx: BuildContext, key: str) -> None:
    archive = ctx.cache.base_archive(key)
    archive.parent.mkdir(parents=True, exist_ok=True)
    tmp = archive.with_name(f".{archive.name}.{ctx.build_id}")
    try:
        run(
            ["tar", "--numeric-owner", "--xattrs", "-I", "zstd -1 -T0", "-cf", tmp,
             "-C", ctx.root, "."],
            error=BuildError,
            what="store the base system in the cache",
        )
        meta = {"mmdebstrap": ctx.tools.get("mmdebstrap", "unknown"), "build_id": ctx.build_id}
        _meta_path(archive).write_text(json.dumps(meta) + "\n")
        tmp.replace(archive)
    finally:
        tmp.unlink(missing_ok=True)


def _meta_path(archive: Path) -> Path:
    return archive.with_name(archive.name.removesuffix(".tar.zst") + ".json")


def _base_meta(archive: Path) -> dict[str, str]:
    """What made a cached base (tool versions), written beside it."""
    try:
        meta: dict[str, str] = json.loads(_meta_path(archive).read_text())
        return meta
    except (OSError, ValueError):
        return {}


def _mmdebstrap_version() -> str:
    out = run(["mmdebstrap", "--version"], check=False)
    return out.stdout.strip().split()[-1] if out.stdout.strip() else "unknown"
