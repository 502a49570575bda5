"""The build, top to bottom: manifest in, build directory (disk image + build.json) out."""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from shipyard import __version__
from shipyard.build.agents import install_agent
from shipyard.build.assemble import assemble_disk
from shipyard.build.bootstrap import bootstrap_root
from shipyard.build.cache import Cache, default_cache_dir
from shipyard.build.configure import configure_system
from shipyard.build.context import BuildContext
from shipyard.build.convert import convert_formats
from shipyard.build.finalize import finalize_root
from shipyard.build.provision import run_provision
from shipyard.cleanup import cleanup_scope, signals_as_interrupts
from shipyard.disk.grub import grub_version
from shipyard.disk.layout import plan_layout
from shipyard.errors import BuildError, ShipyardError
from shipyard.manifest.loader import LoadedManifest, render_name
from shipyard.proc import run
from shipyard.record import RECORD_NAME, BuildRecord, StageTiming, dump, write

log = logging.getLogger("shipyard.build")

Stage = Callable[[BuildContext], None]

# The build, in order. Each stage is a plain function of the context.
STAGES: tuple[tuple[str, Stage], ...] = (
    ("bootstrap", bootstrap_root),
    ("configure", configure_system),
    ("agent", install_agent),
    ("provision", run_provision),
    ("finalize", finalize_root),
    ("assemble", assemble_disk),
    ("convert", convert_formats),
)
STAGE_NAMES = tuple(name for name, _ in STAGES)


class Reporter(Protocol):
    def stage_started(self, name: str) -> None: ...
    def stage_finished(self, name: str, seconds: float, cached: bool) -> None: ...


class _Quiet:
    def stage_started(self, name: str) -> None:
        log.info("%s ...", name)

    def stage_finished(self, name: str, seconds: float, cached: bool) -> None:
        log.info("%s done in %.1f s%s", name, seconds, " (cached)" if cached else "")


def new_build_id(now: datetime) -> str:
    return f"{now:%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"


def build(
    loaded: LoadedManifest,
    out_dir: Path,
    *,
    use_cache: bool = True,
    cache_dir: Path | None = None,
    reporter: Reporter | None = None,
) -> Path:
    """Build ``loaded`` into ``out_dir/<build_id>/`` and return that directory.

    On failure or interruption the images and scratch files are removed and build.json
    says ``failed`` with the error; the error is raised again.
    """
    if os.geteuid() != 0:
        raise BuildError("building an image needs root (mmdebstrap, chroot and mkfs run as root)")
    reporter = reporter or _Quiet()
    now = datetime.now(UTC)
    build_id = new_build_id(now)
    manifest = loaded.manifest
    build_dir = out_dir / build_id
    try:
        build_dir.mkdir(parents=True)
    except OSError as exc:
        raise BuildError(f"cannot create the build directory {build_dir}: {exc}") from exc

    with signals_as_interrupts(), cleanup_scope() as cleanup:
        ctx = BuildContext(
            manifest=manifest,
            manifest_path=loaded.path,
            manifest_sha256=loaded.sha256,
            build_id=build_id,
            name=render_name(manifest.name, manifest, build_id=build_id, now=now),
            build_dir=build_dir,
            work_dir=cleanup.tempdir(prefix=".work-", parent=build_dir),
            cache=Cache(cache_dir or default_cache_dir()),
            cleanup=cleanup,
            log_file=build_dir / "build.log",
            use_cache=use_cache,
        )
        ctx.cache.prepare()
        record = _initial_record(ctx, loaded, now)
        write(build_dir, record)
        _remove_images_on_failure(ctx)
        try:
            ctx.layout = plan_layout(
                manifest.volume.size, manifest.volume.boot, manifest.system.architecture
            )
            for name, stage in STAGES:
                _run_stage(ctx, name, stage, reporter)
        except BaseException as exc:
            _record_failure(ctx, record, exc)
            raise
        _record_success(ctx, record)
    return build_dir


def _run_stage(ctx: BuildContext, name: str, stage: Stage, reporter: Reporter) -> None:
    reporter.stage_started(name)
    started = time.monotonic()
    with open(ctx.log_file, "a", encoding="utf-8") as fh:
        fh.write(f"=== {name}\n")
    try:
        stage(ctx)
    except ShipyardError:
        raise
    except OSError as exc:
        raise BuildError(f"{name}: {exc}") from exc
    seconds = time.monotonic() - started
    cached = name == "bootstrap" and ctx.base_cached
    ctx.stages[name] = StageTiming(seconds=round(seconds, 2), cached=cached)
    reporter.stage_finished(name, seconds, cached)


def _remove_images_on_failure(ctx: BuildContext) -> None:
    def remove() -> None:
        for entry in ctx.build_dir.iterdir():
            if entry.name not in (RECORD_NAME, "build.log", f".{RECORD_NAME}.lock"):
                if entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry, ignore_errors=True)
                else:
                    entry.unlink(missing_ok=True)

    ctx.cleanup.register(f"images in {ctx.build_dir}", remove)


def _initial_record(ctx: BuildContext, loaded: LoadedManifest, now: datetime) -> BuildRecord:
    m = ctx.manifest
    return BuildRecord.model_validate(
        {
            "id": ctx.build_id,
            "name": ctx.name,
            "status": "building",
            "created": now.isoformat(timespec="seconds"),
            "pid": os.getpid(),
            "manifest_path": str(loaded.path),
            "manifest_sha256": loaded.sha256,
            "manifest": loaded.resolved,
            "release": m.system.release,
            "architecture": m.system.architecture,
            "flavour": m.flavour,
            "agent": m.agent,
            "boot_modes": list(m.volume.boot),
        }
    )


def _record_success(ctx: BuildContext, record: BuildRecord) -> None:
    layout = ctx.layout
    assert layout is not None
    data = dump(record)
    data.pop("pid", None)
    data.update(
        status="complete",
        finished=datetime.now(UTC).isoformat(timespec="seconds"),
        disk_size=layout.size,
        partitions=[
            {
                "number": p.number,
                "name": p.name,
                "type": p.type_guid,
                "uuid": p.uuid,
                "start": p.start,
                "size": p.size,
                **_filesystem(ctx, p.name),
            }
            for p in layout.partitions
        ],
        formats={k: v.model_dump() for k, v in ctx.extra["formats"].items()},
        kernel=ctx.kernel,
        packages=ctx.packages,
        stages={k: v.model_dump() for k, v in ctx.stages.items()},
        tools=_tool_versions(ctx),
        cache={"base_key": ctx.base_key, "base_reused": ctx.base_cached},
    )
    write(ctx.build_dir, BuildRecord.model_validate(data))


def _filesystem(ctx: BuildContext, name: str) -> dict[str, str]:
    assert ctx.layout is not None
    if name == "root":
        return {"filesystem": "ext4", "fs_uuid": ctx.layout.root_fs_uuid, "label": "root"}
    if name == "esp":
        return {"filesystem": "vfat", "fs_uuid": ctx.layout.esp_fs_uuid, "label": "ESP"}
    return {}


def _record_failure(ctx: BuildContext, record: BuildRecord, exc: BaseException) -> None:
    data = dump(record)
    data.pop("pid", None)
    reason = str(exc) or type(exc).__name__
    if isinstance(exc, KeyboardInterrupt):
        reason = "interrupted"
    data.update(
        status="failed",
        finished=datetime.now(UTC).isoformat(timespec="seconds"),
        error=reason.splitlines()[0],
        stages={k: v.model_dump() for k, v in ctx.stages.items()},
    )
    try:
        write(ctx.build_dir, data)
    except OSError as write_exc:
        log.warning("could not mark the build failed: %s", write_exc)


def _tool_versions(ctx: BuildContext) -> dict[str, str]:
    tools = {"shipyard": __version__, "grub": grub_version(), **ctx.tools}
    out = run(["qemu-img", "--version"], check=False)
    if out.stdout:
        tools["qemu-img"] = out.stdout.split()[2]
    return tools


__all__ = ["STAGES", "STAGE_NAMES", "build", "new_build_id"]
