"""``shipyard build MANIFEST``: bake a disk image."""

from __future__ import annotations

import argparse
import os
import shutil
import time
from pathlib import Path
from typing import Any

from shipyard.cli.manifest import add_set_option
from shipyard.cli.output import add_json_flag, emit_json, stderr_console
from shipyard.errors import BuildError


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "build",
        help="build a disk image from a manifest",
        description="Build MANIFEST into DIR/<build_id>/ (disk.raw, other formats, build.json).",
    )
    parser.add_argument("manifest", metavar="MANIFEST", help="the YAML manifest")
    parser.add_argument(
        "-o", "--output", metavar="DIR", default="builds", help="where builds go (default ./builds)"
    )
    add_set_option(parser)
    parser.add_argument(
        "--no-cache", action="store_true", help="bootstrap from the mirror, ignoring cached bases"
    )
    parser.add_argument(
        "--cache-dir", metavar="DIR", help="build cache (default ~/.cache/shipyard)"
    )
    parser.add_argument(
        "--no-publish", action="store_true", help="do not publish to the manifest's targets"
    )
    parser.add_argument(
        "--lock",
        nargs="?",
        const="",
        metavar="FILE",
        help="after the build, write its packages to FILE (default: shipyard.lock beside "
        "the manifest)",
    )
    parser.add_argument(
        "--locked",
        nargs="?",
        const="",
        metavar="FILE",
        help="refuse a build whose packages differ from FILE (default: shipyard.lock beside "
        "the manifest)",
    )
    add_json_flag(parser)
    parser.set_defaults(func=run_build)


class _LiveReporter:
    """One line per stage on stderr: a spinner while it runs, its time when done."""

    def __init__(self) -> None:
        self.console = stderr_console()
        self._status: Any = None
        self._started = time.monotonic()

    def stage_started(self, name: str) -> None:
        self._status = self.console.status(f"[bold]{name}[/bold] ...", spinner="dots")
        self._status.start()

    def stage_finished(self, name: str, seconds: float, cached: bool) -> None:
        if self._status is not None:
            self._status.stop()
        note = " [dim](cached)[/dim]" if cached else ""
        self.console.print(f"[green]✓[/green] {name:<10} {seconds:6.1f} s{note}")

    def stop(self) -> None:
        if self._status is not None:
            self._status.stop()


def require_root() -> None:
    """Refuse to start a build that would fail at its first mount or chroot."""
    if os.geteuid() != 0:
        raise BuildError(
            "building an image needs root (mmdebstrap, chroot and mkfs run as root)",
            hint="run it with sudo",
        )


def run_build(args: argparse.Namespace) -> int:
    from shipyard.build.lock import LOCK_NAME, read_lock
    from shipyard.build.pipeline import build
    from shipyard.manifest.loader import load_manifest
    from shipyard.record import dump, load

    loaded = load_manifest(args.manifest, args.overrides)

    def lock_path(given: str) -> Path:
        return Path(given) if given else loaded.path.parent / LOCK_NAME

    locked = read_lock(lock_path(args.locked)) if args.locked is not None else None
    require_root()
    reporter = _LiveReporter()
    console = stderr_console()
    console.print(f"building [bold]{loaded.path}[/bold] → {args.output}/")
    try:
        build_dir = build(
            loaded,
            Path(args.output),
            use_cache=not args.no_cache,
            cache_dir=Path(args.cache_dir) if args.cache_dir else None,
            reporter=reporter,
            locked=locked,
        )
    finally:
        reporter.stop()
    if args.lock is not None:
        shutil.copyfile(build_dir / LOCK_NAME, lock_path(args.lock))
        console.print(f"packages locked in {lock_path(args.lock)}", markup=False)
    record = load(build_dir)
    total = sum(s.seconds for s in record.stages.values())
    raw = record.artifact("raw")
    console.print(
        f"built [bold]{record.name}[/bold] in {total:.1f} s: {build_dir} "
        f"({raw.allocated / 1024**2:.0f} MiB allocated of {raw.virtual_size / 1024**3:.1f} GiB)"
    )
    if loaded.manifest.publish and not args.no_publish:
        _publish(build_dir, loaded.manifest.publish)
        record = load(build_dir)
    if args.json:
        emit_json(dump(record))
    else:
        print(build_dir)
    return 0


def _publish(build_dir: Path, targets: Any) -> None:
    from shipyard.publish import publish_targets

    publish_targets(build_dir, targets)
