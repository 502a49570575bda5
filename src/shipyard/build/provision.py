"""Stage provision: the manifest's build-time steps, in order, inside the image root."""

from __future__ import annotations

import logging
import os
import shutil
import time

from shipyard.build.chroot import run_in_root
from shipyard.build.context import BuildContext
from shipyard.errors import BuildError, ToolError
from shipyard.manifest.schema import FileStep, ScriptStep, ShellStep
from shipyard.proc import tail

log = logging.getLogger("shipyard.build")

# Services installed by a step must not start inside the build.
POLICY_RC_D = "#!/bin/sh\nexit 101\n"
STEP_DIR = "/run/shipyard-provision"


def run_provision(ctx: BuildContext) -> None:
    steps = ctx.manifest.provision
    if not steps:
        return
    policy = ctx.in_root("/usr/sbin/policy-rc.d")
    had_policy = policy.exists()
    if not had_policy:
        policy.write_text(POLICY_RC_D)
        policy.chmod(0o755)
    try:
        for index, step in enumerate(steps):
            started = time.monotonic()
            _run_step(ctx, index, step)
            log.info("provision[%d]: done in %.1f s", index, time.monotonic() - started)
    finally:
        if not had_policy:
            policy.unlink(missing_ok=True)


def _run_step(ctx: BuildContext, index: int, step: ShellStep | ScriptStep | FileStep) -> None:
    if isinstance(step, FileStep):
        _copy_file(ctx, index, step)
        return
    if isinstance(step, ShellStep):
        argv = ["/bin/sh", "-ec", step.shell]
        shown = step.shell
    else:
        staged = ctx.in_root(f"/tmp/shipyard-step-{index}")
        shutil.copyfile(step.script, staged)
        staged.chmod(0o700)
        argv = [f"/tmp/{staged.name}"]
        shown = str(step.script)
    try:
        result = run_in_root(
            ctx.root,
            argv,
            env={"SHIPYARD_BUILD_ID": ctx.build_id, "SHIPYARD_IMAGE_NAME": ctx.name},
            what=f"provision step {index}",
            check=False,
        )
    finally:
        if isinstance(step, ScriptStep):
            ctx.in_root(f"/tmp/shipyard-step-{index}").unlink(missing_ok=True)
    output = (result.stdout + result.stderr).strip()
    with open(ctx.log_file, "a", encoding="utf-8") as fh:
        fh.write(f"--- provision[{index}]: {shown}\n{output}\n")
    if result.returncode != 0:
        raise BuildError(
            f"provision[{index}] failed with exit code {result.returncode}: {_one_line(shown)}"
            + (f"\n{tail(output, 15)}" if output else " (no output)")
        )


def _copy_file(ctx: BuildContext, index: int, step: FileStep) -> None:
    spec = step.file
    target = ctx.in_root(spec.destination)
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.is_dir():
        raise BuildError(f"provision[{index}]: {spec.destination} is a directory in the image")
    shutil.copyfile(spec.source, target)
    os.chmod(target, int(spec.mode, 8))
    try:
        run_in_root(ctx.root, ["chown", spec.owner, spec.destination])
    except ToolError as exc:
        raise BuildError(
            f"provision[{index}]: cannot give {spec.destination} to {spec.owner}: "
            f"{exc.output_tail.splitlines()[-1] if exc.output_tail else exc}"
        ) from exc


def _one_line(text: str) -> str:
    first = text.strip().splitlines()[0] if text.strip() else text
    return first if len(first) <= 120 else first[:117] + "..."
