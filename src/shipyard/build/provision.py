"""Stage provision: the manifest's build-time steps, in order, inside the image root."""

from __future__ import annotations

import logging
import time

from shipyard.build import inroot
from shipyard.build.ansible import run_ansible
from shipyard.build.chroot import run_in_root
from shipyard.build.context import BuildContext
from shipyard.errors import BuildError, ToolError
from shipyard.manifest.schema import AnsibleStep, FileStep, ScriptStep, ShellStep
from shipyard.proc import tail

log = logging.getLogger("shipyard.build")

# Services installed by a step must not start inside the build.
POLICY_RC_D = "#!/bin/sh\nexit 101\n"
POLICY = "/usr/sbin/policy-rc.d"


def run_provision(ctx: BuildContext) -> None:
    steps = ctx.manifest.provision
    if not steps:
        return
    # Every write from the host goes through inroot: a step may leave links behind.
    had_policy = inroot.lexists(ctx.root, POLICY)
    if not had_policy:
        inroot.write_text(ctx.root, POLICY, POLICY_RC_D, 0o755)
    try:
        for index, step in enumerate(steps):
            started = time.monotonic()
            _run_step(ctx, index, step)
            log.info("provision[%d]: done in %.1f s", index, time.monotonic() - started)
    finally:
        if not had_policy:
            inroot.remove(ctx.root, POLICY)


def _run_step(
    ctx: BuildContext, index: int, step: ShellStep | ScriptStep | FileStep | AnsibleStep
) -> None:
    if isinstance(step, FileStep):
        _copy_file(ctx, index, step)
        return
    if isinstance(step, AnsibleStep):
        run_ansible(ctx, index, step.ansible)
        return
    if isinstance(step, ShellStep):
        argv = ["/bin/sh", "-ec", step.shell]
        shown = step.shell
    else:
        staged = f"/tmp/shipyard-step-{index}"
        inroot.install_file(ctx.root, staged, step.script, 0o700)
        argv = [staged]
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
            inroot.remove(ctx.root, f"/tmp/shipyard-step-{index}")
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
    try:
        # A link at the destination (/etc/localtime is one) is replaced inside the image,
        # as install(1) would; the host's file it points at is never touched.
        inroot.install_file(ctx.root, spec.destination, spec.source, int(spec.mode, 8))
    except BuildError as exc:
        raise BuildError(f"provision[{index}]: {exc}") from None
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
