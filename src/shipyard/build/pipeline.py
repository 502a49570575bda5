"""The build, top to bottom: manifest in, build directory (disk image + build.json) out."""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol, TypeVar

from shipyard import __version__
from shipyard.build.agents import install_agent
from shipyard.build.ansible import ansible_version
from shipyard.build.assemble import assemble_disk
from shipyard.build.bootstrap import bootstrap_root
from shipyard.build.cache import Cache, default_cache_dir
from shipyard.build.configure import configure_system
from shipyard.build.context import BaseSystem, BuildContext, ImageContents, ImageFiles
from shipyard.build.convert import convert_formats
from shipyard.build.finalize import finalize_root
from shipyard.build.lock import LOCK_NAME, Lock, check_locked, lock_of, write_lock
from shipyard.build.provision import run_provision
from shipyard.cleanup import cleanup_scope, signals_as_interrupts
from shipyard.disk.grub import grub_version
from shipyard.disk.layout import plan_layout
from shipyard.errors import BuildError, ShipyardError
from shipyard.manifest.loader import LoadedManifest, render_name
from shipyard.manifest.schema import AnsibleStep
from shipyard.proc import run
from shipyard.record import (
    RECORD_NAME,
    BuildRecord,
    ProvenanceFile,
    SbomFile,
    StageTiming,
    dump,
    write,
)

log = logging.getLogger("shipyard.build")

T = TypeVar("T")


@dataclass(frozen=True)
class Stages:
    """The build's stages, in the order they run; each is a plain function of the context.

    What a stage finds out it returns, typed; tests swap stages for ones that fail or
    fake their work, to exercise the pipeline without root.
    """

    bootstrap: Callable[[BuildContext], BaseSystem] = bootstrap_root
    configure: Callable[[BuildContext], None] = configure_system
    agent: Callable[[BuildContext], None] = install_agent
    provision: Callable[[BuildContext], None] = run_provision
    finalize: Callable[[BuildContext], ImageContents] = finalize_root
    assemble: Callable[[BuildContext], None] = assemble_disk
    convert: Callable[[BuildContext], ImageFiles] = convert_formats


STAGE_NAMES = tuple(f.name for f in fields(Stages))


@dataclass(frozen=True)
class BuiltImage:
    """What the stages found out, for build.json."""

    base: BaseSystem
    contents: ImageContents
    files: ImageFiles
    timings: Mapping[str, StageTiming]
    sbom: tuple[SbomFile, ...] = ()


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
    stages: Stages = Stages(),
    locked: Lock | None = None,
) -> Path:
    """Build ``loaded`` into ``out_dir/<build_id>/`` and return that directory.

    The caller checks that it may build (root, tools). On failure or interruption every
    stage's resources are released, the images and scratch files are removed, and
    build.json says ``failed`` with the error; the error is raised again.
    """
    reporter = reporter or _Quiet()
    now = datetime.now(UTC)
    build_id = new_build_id(now)
    manifest = loaded.manifest
    layout = plan_layout(
        manifest.volume.size,
        manifest.volume.boot,
        manifest.system.architecture,
        seed=manifest.volume.id_seed or loaded.sha256,
    )
    cache = Cache(cache_dir or default_cache_dir())
    cache.prepare()
    build_dir = out_dir / build_id
    try:
        build_dir.mkdir(parents=True)
    except OSError as exc:
        raise BuildError(f"cannot create the build directory {build_dir}: {exc}") from exc

    with signals_as_interrupts(), cleanup_scope() as cleanup:
        # Until build.json exists, a failure leaves no trace of the build directory.
        unmade = cleanup.register(f"remove {build_dir}", lambda: shutil.rmtree(build_dir, True))
        ctx = BuildContext(
            manifest=manifest,
            manifest_path=loaded.path,
            manifest_sha256=loaded.sha256,
            build_id=build_id,
            name=render_name(manifest.name, manifest, build_id=build_id, now=now),
            build_dir=build_dir,
            work_dir=cleanup.tempdir(prefix=".work-", parent=build_dir),
            cache=cache,
            cleanup=cleanup,
            log_file=build_dir / "build.log",
            layout=layout,
            use_cache=use_cache,
        )
        record = _initial_record(ctx, loaded, now)
        write(build_dir, record)
        cleanup.keep(unmade)
        _remove_images_on_failure(ctx)
        timings: dict[str, StageTiming] = {}
        try:
            image = _run_stages(ctx, stages, reporter, timings, locked)
            write_lock(build_dir / LOCK_NAME, lock_of(image.contents.installed))
            image = replace(image, sbom=_write_sbom(ctx, image, now))
            _record_success(ctx, record, image)
        except BaseException as exc:
            _record_failure(ctx, record, exc, timings)
            raise
    return build_dir


def _run_stages(
    ctx: BuildContext,
    stages: Stages,
    reporter: Reporter,
    timings: dict[str, StageTiming],
    locked: Lock | None = None,
) -> BuiltImage:
    """The build, top to bottom."""

    def stage(name: str, function: Callable[[BuildContext], T]) -> T:
        return _run_stage(ctx, name, function, reporter, timings)

    base = stage("bootstrap", stages.bootstrap)
    stage("configure", stages.configure)
    stage("agent", stages.agent)
    stage("provision", stages.provision)
    contents = stage("finalize", stages.finalize)
    if locked is not None:
        check_locked(locked, contents.installed)
    stage("assemble", stages.assemble)
    files = stage("convert", stages.convert)
    return BuiltImage(base=base, contents=contents, files=files, timings=timings)


def _run_stage(
    ctx: BuildContext,
    name: str,
    function: Callable[[BuildContext], T],
    reporter: Reporter,
    timings: dict[str, StageTiming],
) -> T:
    reporter.stage_started(name)
    started = time.monotonic()
    with open(ctx.log_file, "a", encoding="utf-8") as fh:
        fh.write(f"=== {name}\n")
    try:
        result = function(ctx)
    except ShipyardError:
        raise
    except OSError as exc:
        raise BuildError(f"{name}: {exc}") from exc
    seconds = time.monotonic() - started
    cached = isinstance(result, BaseSystem) and result.reused
    timings[name] = StageTiming(seconds=round(seconds, 2), cached=cached)
    reporter.stage_finished(name, seconds, cached)
    return result


def _write_sbom(ctx: BuildContext, image: BuiltImage, now: datetime) -> tuple[SbomFile, ...]:
    """The bill of materials, beside the disk: what finalize found in the image."""
    from shipyard.build.sbom import SbomSubject, write_sbom

    subject = SbomSubject(
        name=ctx.name,
        build_id=ctx.build_id,
        release=ctx.manifest.system.release,
        created=now,
        packages=image.contents.installed,
        files=image.contents.added_files,
    )
    try:
        return write_sbom(ctx.build_dir, subject)
    except (OSError, ValueError) as exc:  # spdx-tools raises ValueError on an invalid document
        raise BuildError(f"cannot write the bill of materials: {exc}") from exc


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


def _record_success(ctx: BuildContext, record: BuildRecord, image: BuiltImage) -> None:
    layout = ctx.layout
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
        formats={k: v.model_dump() for k, v in image.files.formats.items()},
        kernel=image.contents.kernel,
        packages=dict(image.contents.packages),
        sbom=[f.model_dump() for f in image.sbom],
        stages={k: v.model_dump() for k, v in image.timings.items()},
        tools=_tool_versions(ctx, image.base),
        cache={"base_key": image.base.key, "base_reused": image.base.reused},
    )
    complete = BuildRecord.model_validate(data)
    complete.provenance = _write_provenance(ctx, complete)
    write(ctx.build_dir, complete)


def _write_provenance(ctx: BuildContext, record: BuildRecord) -> ProvenanceFile:
    """The in-toto provenance, signed when the catalog has a signing key here."""
    from shipyard.build.provenance import write_provenance
    from shipyard.catalog.sign import default_home, signing_key

    home = default_home()
    try:
        return write_provenance(ctx.build_dir, record, home if signing_key(home) else None)
    except OSError as exc:
        raise BuildError(f"cannot write the provenance: {exc}") from exc


def _filesystem(ctx: BuildContext, name: str) -> dict[str, str]:
    if name == "root":
        return {"filesystem": "ext4", "fs_uuid": ctx.layout.root_fs_uuid, "label": "root"}
    if name == "esp":
        return {"filesystem": "vfat", "fs_uuid": ctx.layout.esp_fs_uuid, "label": "ESP"}
    return {}


def _record_failure(
    ctx: BuildContext, record: BuildRecord, exc: BaseException, timings: Mapping[str, StageTiming]
) -> None:
    data = dump(record)
    data.pop("pid", None)
    reason = str(exc) or type(exc).__name__
    if isinstance(exc, KeyboardInterrupt):
        reason = "interrupted"
    data.update(
        status="failed",
        finished=datetime.now(UTC).isoformat(timespec="seconds"),
        error=reason.splitlines()[0],
        stages={k: v.model_dump() for k, v in timings.items()},
    )
    try:
        write(ctx.build_dir, data)
    except OSError as write_exc:
        log.warning("could not mark the build failed: %s", write_exc)


def _tool_versions(ctx: BuildContext, base: BaseSystem) -> dict[str, str]:
    tools = {"shipyard": __version__, "grub": grub_version(), "mmdebstrap": base.mmdebstrap}
    ansible = ansible_version()
    if ansible and any(isinstance(step, AnsibleStep) for step in ctx.manifest.provision):
        tools["ansible-core"] = ansible
    out = run(["qemu-img", "--version"], check=False)
    if out.stdout:
        tools["qemu-img"] = out.stdout.split()[2]
    return tools


__all__ = ["STAGE_NAMES", "Stages", "build", "new_build_id"]
